"""The TAXII client against a real medallion 3.0.0 on loopback: discovery, paging, versions, manifest, writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.remote.http import RemoteError
from accord.remote.taxii import TaxiiClient
from tests.builders import make_indicator
from tests.medallion import Medallion, date_added, running_medallion

OLD = make_indicator(modified="2024-02-01T00:00:00.000Z")
NEW = {**OLD, "modified": "2024-03-01T00:00:00.000Z", "name": "renamed"}
OTHERS = [make_indicator() for _ in range(8)]
PRELOADED = [OLD, *OTHERS, NEW]  # ten versions of nine objects; date_added 00:00:00 .. 00:00:09


@pytest.fixture(scope="module")
def taxii(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Medallion]:
    """medallion with a page size of 4, serving PRELOADED."""
    with running_medallion(tmp_path_factory.mktemp("medallion"), PRELOADED, page_size=4) as server:
        yield server


def ids(pages: list[Any]) -> list[str]:
    return [f"{o['id']}@{o.get('modified')}" for page in pages for o in page.objects]


def test_discovery_url_resolves_the_default_api_root(taxii: Medallion) -> None:
    with TaxiiClient(taxii.remote(taxii.discovery)) as client:
        assert client.api_root() == taxii.api_root
        assert [c["id"] for c in client.collections()] == [taxii.collection, taxii.read_only]
    with TaxiiClient(taxii.remote(taxii.api_root.rstrip("/"))) as client:
        assert client.api_root() == taxii.api_root


def test_paging_by_next_repeats_the_query_and_returns_everything_once(taxii: Medallion) -> None:
    with TaxiiClient(taxii.remote()) as client:
        pages = list(client.objects_pages(taxii.collection, limit=3))
    assert [len(p.objects) for p in pages] == [3, 3, 3, 1]
    assert [p.more for p in pages] == [True, True, True, False]
    assert all(p.next for p in pages[:-1])
    assert ids(pages) == [f"{o['id']}@{o['modified']}" for o in PRELOADED]
    assert (pages[1].date_added_first, pages[1].date_added_last) == (date_added(3), date_added(5))
    assert all(p.nbytes > 0 for p in pages)


def test_paging_with_added_after_and_a_server_page_size(taxii: Medallion) -> None:
    with TaxiiClient(taxii.remote()) as client:
        pages = list(client.objects_pages(taxii.collection, added_after=date_added(2)))
    assert [len(p.objects) for p in pages] == [4, 3]  # medallion's page size without a limit
    assert ids(pages) == [f"{o['id']}@{o['modified']}" for o in PRELOADED[3:]]
    assert pages[-1].date_added_last == date_added(9)


def test_all_versions_or_the_latest(taxii: Medallion) -> None:
    with TaxiiClient(taxii.remote()) as client:
        every = ids(list(client.objects_pages(taxii.collection, limit=4)))
        latest = ids(list(client.objects_pages(taxii.collection, limit=4, all_versions=False)))
        matched = ids(list(client.objects_pages(taxii.collection, limit=1, match={"id": OLD["id"]})))
    assert f"{OLD['id']}@{OLD['modified']}" in every
    assert f"{NEW['id']}@{NEW['modified']}" in every
    assert f"{OLD['id']}@{OLD['modified']}" not in latest
    assert len(latest) == 9
    assert matched == [f"{OLD['id']}@{OLD['modified']}", f"{NEW['id']}@{NEW['modified']}"]


def test_manifest_is_paged_to_every_record(taxii: Medallion) -> None:
    with TaxiiClient(taxii.remote()) as client:
        records = list(client.manifest(taxii.collection, limit=3))
    assert [(r["id"], r["version"]) for r in records] == [(o["id"], o["modified"]) for o in PRELOADED]
    assert all(r["date_added"] and r["media_type"] for r in records)


def test_add_objects_and_status(tmp_path: Path) -> None:
    with running_medallion(tmp_path) as server, TaxiiClient(server.remote()) as client:
        first = make_indicator()
        status = client.add_objects(server.collection, [first, make_indicator()])
        assert (status["status"], status["success_count"], status["failure_count"]) == ("complete", 2, 0)
        assert client.get_status(status["id"]) == status
        again = client.add_objects(server.collection, [first])
        assert again["failure_count"] == 1
        stored = ids(list(client.objects_pages(server.collection)))
        assert stored.count(f"{first['id']}@{first['modified']}") == 1
        assert len(stored) == 2


def test_errors_carry_the_http_status(taxii: Medallion) -> None:
    with TaxiiClient(taxii.remote()) as client:
        with pytest.raises(RemoteError) as missing:
            list(client.objects_pages("no-such-collection"))
        with pytest.raises(RemoteError) as read_only:
            client.add_objects(taxii.read_only, [make_indicator()])
        with pytest.raises(RemoteError) as unknown:
            client.get_status("no-such-status")
    assert missing.value.http_status == 404
    assert "HTTP 404" in missing.value.message
    assert "not found" in missing.value.message
    assert read_only.value.http_status == 403
    assert unknown.value.http_status == 404
    for error in (missing, read_only, unknown):
        assert "\n" not in error.value.message
        assert error.value.status == 502
    with TaxiiClient(taxii.remote(password="wrong")) as client, pytest.raises(RemoteError) as refused:
        client.api_root()
    assert refused.value.http_status == 401


def test_verify_sees_every_response_and_can_refuse(taxii: Medallion) -> None:
    seen: list[str] = []

    def verify(body: bytes, headers: Any) -> None:
        seen.append(headers.get("content-type", ""))
        if b"indicator--" in body:
            raise ValueError("bad signature")

    with TaxiiClient(taxii.remote(verify=verify)) as client:
        assert client.api_root() == taxii.api_root
        with pytest.raises(RemoteError, match="response refused: bad signature"):
            list(client.objects_pages(taxii.collection))
    assert len(seen) == 2
