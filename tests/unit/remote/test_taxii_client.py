"""The TAXII client against scripted servers: paging by added_after only, envelopes and answers that are garbage."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from tests.unit.remote.server import scripted, send

from accord.remote.http import RemoteError
from accord.remote.taxii import TAXII_MEDIA, RemoteServer, TaxiiClient

ROOT = {"title": "root", "versions": [TAXII_MEDIA], "max_content_length": 1000}


def _taxii(handler: BaseHTTPRequestHandler, resource: object, **headers: str) -> None:
    send(handler, 200, orjson.dumps(resource), Content_Type=TAXII_MEDIA, **headers)


class DateOnlyPager:
    """A collection paged only by added_after (no `next`), capping the limit at `cap`."""

    def __init__(self, dates: list[str], cap: int = 100) -> None:
        self.items = [({"id": f"x--{i}", "type": "x"}, date) for i, date in enumerate(dates)]
        self.cap = cap
        self.queries: list[dict[str, str]] = []

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(handler.path).query).items()}
        self.queries.append(query)
        after = query.get("added_after", "")
        limit = min(int(query.get("limit", 2)), self.cap)
        left = [(o, d) for o, d in self.items if d > after]
        page = left[:limit]
        headers = {"X_TAXII_Date_Added_First": page[0][1], "X_TAXII_Date_Added_Last": page[-1][1]} if page else {}
        _taxii(handler, {"more": len(left) > limit, "objects": [o for o, _ in page]}, **headers)


def _client(base: str, path: str = "/root/") -> TaxiiClient:
    return TaxiiClient(RemoteServer(url=base + path, allow_private=True))


def test_paging_by_added_after_grows_the_limit_past_a_page_of_one_date() -> None:
    pager = DateOnlyPager(["d1", "d2", "d3", "d3", "d3", "d4"])
    routes = {"/root/": lambda h: _taxii(h, ROOT), "/root/collections/c/objects/": pager}
    with scripted(routes) as base, _client(base) as client:
        pages = list(client.objects_pages("c", limit=2))
    assert [o["id"] for p in pages for o in p.objects] == [f"x--{i}" for i in range(6)]
    assert [(q.get("added_after"), q["limit"]) for q in pager.queries] == [
        (None, "2"),
        ("d2", "2"),  # all d3: asked again, larger, from the same point
        ("d2", "4"),
    ]
    assert all(q["match[version]"] == "all" for q in pager.queries)


def test_a_server_that_will_not_page_past_one_date_is_a_clear_error() -> None:
    pager = DateOnlyPager(["d1", "d1", "d1"], cap=2)
    routes = {"/root/": lambda h: _taxii(h, ROOT), "/root/collections/c/objects/": pager}
    expected = "cannot page past date_added d1: more than 2 objects share it"
    with scripted(routes) as base, _client(base) as client, pytest.raises(RemoteError, match=expected):
        list(client.objects_pages("c"))


def test_more_without_next_or_date_headers_is_refused() -> None:
    routes = {
        "/root/": lambda h: _taxii(h, ROOT),
        "/root/collections/c/objects/": lambda h: _taxii(h, {"more": True, "objects": [{"id": "x--1"}]}),
    }
    expected = "neither 'next' nor X-TAXII-Date-Added-Last"
    with scripted(routes) as base, _client(base) as client, pytest.raises(RemoteError, match=expected):
        list(client.objects_pages("c"))


GARBAGE = {
    "/html/": (lambda h: send(h, 200, b"<html>login</html>", Content_Type="text/html"), "not a TAXII 2.1 answer"),
    "/json/": (lambda h: send(h, 200, b"{oops", Content_Type=TAXII_MEDIA), "invalid JSON in the TAXII answer"),
    "/list/": (lambda h: _taxii(h, [1, 2]), "not a JSON object"),
    "/other/": (lambda h: _taxii(h, {"title": "x"}), "neither a TAXII discovery nor an API root"),
    "/old/": (lambda h: _taxii(h, {"title": "x", "versions": ["taxii-2.0"]}), "does not offer TAXII 2.1"),
    "/empty/": (lambda h: _taxii(h, {"title": "x", "api_roots": []}), "names no API root"),
    "/down/": (lambda h: send(h, 502, b"<html>Bad Gateway</html>", Content_Type="text/html"), "(an HTML error page)"),
}


@pytest.fixture(scope="module")
def garbage() -> Iterator[str]:
    with scripted({path: route for path, (route, _) in GARBAGE.items()}) as base:
        yield base


@pytest.mark.parametrize("path", list(GARBAGE))
def test_garbage_answers_are_one_clear_line(garbage: str, path: str) -> None:
    with _client(garbage, path) as client, pytest.raises(RemoteError) as error:
        client.api_root()
    assert GARBAGE[path][1] in error.value.message
    assert error.value.message.startswith(garbage + path)
    assert "\n" not in error.value.message


def test_an_envelope_without_a_list_of_objects_is_refused() -> None:
    routes = {
        "/root/": lambda h: _taxii(h, ROOT),
        "/root/collections/c/objects/": lambda h: _taxii(h, {"more": False, "objects": {"id": "x"}}),
        "/root/collections/c/manifest/": lambda h: _taxii(h, {"more": "yes", "objects": []}),
    }
    with scripted(routes) as base, _client(base) as client:
        with pytest.raises(RemoteError, match="invalid TAXII envelope: 'objects' is not a list of objects"):
            list(client.objects_pages("c"))
        with pytest.raises(RemoteError, match="invalid TAXII envelope: 'more' is not true or false"):
            list(client.manifest("c"))


def test_a_post_is_signed_and_polled_to_completion() -> None:
    polls: list[str] = []
    posted: list[tuple[bytes, str | None]] = []

    def post(h: BaseHTTPRequestHandler) -> None:
        posted.append((h.rfile.read(int(h.headers["Content-Length"])), h.headers.get("X-Signature")))
        _taxii(h, {"id": "s1", "status": "pending", "total_count": 1, "pending_count": 1})

    def status(h: BaseHTTPRequestHandler) -> None:
        polls.append(h.path)
        _taxii(h, {"id": "s1", "status": "complete" if len(polls) > 1 else "pending", "total_count": 1})

    routes = {"/root/": lambda h: _taxii(h, ROOT), "/root/collections/c/objects/": post, "/root/status/s1/": status}
    with scripted(routes) as base:
        server = RemoteServer(base + "/root/", allow_private=True, sign=lambda body: {"X-Signature": str(len(body))})
        with TaxiiClient(server) as client:
            final = client.add_objects("c", [{"id": "x--1"}], wait=30)
    assert final["status"] == "complete"
    assert len(polls) == 2
    body, signature = posted[0]
    assert orjson.loads(body) == {"objects": [{"id": "x--1"}]}
    assert signature == str(len(body))
