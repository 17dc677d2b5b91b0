"""REST cursors (`GET /api/v1/objects?before=`, `GET /api/v1/audit?after=`) are opaque, bound and checked."""

from __future__ import annotations

import base64
import struct
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.models.objects import stix_object
from accord.sharing import cursors
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator
from tests.integration.api.conftest import Node

OBJECTS = "/api/v1/objects"


def _publish(org_name: str, alias: str, *objects: dict[str, Any]) -> None:
    with get_engine().begin() as conn:
        owner = accounts.get_org_by_name_or_raise(conn, org_name)
        col = accounts.get_collection_by_alias_or_raise(conn, alias)
        report = ingest(conn, objects, WriteContext(writer_org_id=owner.id, collection_id=col.id))
        assert report.refused == 0, report.reasons


@pytest.fixture
def community(node: Node) -> dict[str, list[str]]:
    """Alpha and Bravo share a collection; Alpha also keeps objects Bravo may not read, interleaved in time."""
    with get_engine().begin() as conn:
        accounts.create_collection(conn, "Shared", "shared", readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"])
        accounts.create_collection(conn, "Alpha only", "alpha-only", readers=["Alpha"], writers=["Alpha"])
    seen, hidden = [], []
    for i in range(12):
        green, red, private = make_indicator(tlp=Tlp.GREEN), make_indicator(tlp=Tlp.RED), make_indicator()
        _publish("Alpha", "shared", green, red)
        _publish("Alpha", "alpha-only", private)
        if i % 3 == 0:  # a newer version: the object is listed once, at its newest readable version
            _publish("Alpha", "shared", green | {"modified": "2026-02-01T00:00:00.000Z", "name": "v2"})
        mine = make_indicator(tlp=Tlp.AMBER)
        _publish("Bravo", "shared", mine)
        seen += [green["id"], mine["id"]]
        hidden += [red["id"], private["id"]]
    return {"seen": seen, "hidden": hidden}


def _get(node: Node, who: str, url: str = OBJECTS, **params: Any) -> Any:
    return node.client.get(url, params=params, headers=node.bearer(who))


def _problem_400(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()  # type: ignore[no-any-return]


def _page_through(node: Node, who: str, limit: int, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(1000):
        body = _get(node, who, limit=limit, **params, **({"before": cursor} if cursor else {})).json()
        assert len(body["objects"]) <= limit
        ids += [o["id"] for o in body["objects"]]
        cursor = body.get("next")
        if cursor is None:
            return ids
        assert len(body["objects"]) == limit
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 2, 5, 7])
def test_paging_yields_every_readable_object_exactly_once(node: Node, community: dict[str, list[str]], limit: int):
    for who in ("bob", "alice", "admin"):
        whole = [o["id"] for o in _get(node, who, limit=1000).json()["objects"]]
        assert "next" not in _get(node, who, limit=1000).json()
        paged = _page_through(node, who, limit)
        assert paged == whole, who
        assert len(set(paged)) == len(paged)
    bob = set(_page_through(node, "bob", limit))
    assert set(community["seen"]) <= bob
    assert not set(community["hidden"]) & bob
    assert set(community["hidden"]) <= set(_page_through(node, "alice", limit))


def test_paging_by_type_keeps_the_filter(node: Node, community: dict[str, list[str]]):
    whole = [o["id"] for o in _get(node, "bob", limit=1000, type="indicator").json()["objects"]]
    assert set(whole) == set(community["seen"])
    assert _page_through(node, "bob", 4, type="indicator") == whole
    first = _get(node, "bob", limit=4, type="indicator").json()
    # A cursor is valid only for the filters it was issued for.
    _problem_400(_get(node, "bob", limit=4, before=first["next"]))
    _problem_400(_get(node, "bob", limit=4, before=first["next"], type=["indicator", "identity"]))
    # The page size may change from page to page.
    assert _get(node, "bob", limit=9, type="indicator", before=first["next"]).status_code == 200


def test_a_cursor_from_one_user_fails_for_another(node: Node, community: dict[str, list[str]]):
    bobs = _get(node, "bob", limit=3).json()["next"]
    assert _get(node, "bob", limit=3, before=bobs).status_code == 200
    assert "not a valid" in _problem_400(_get(node, "alice", limit=3, before=bobs))["detail"]
    alices = _get(node, "alice", limit=3).json()["next"]
    _problem_400(_get(node, "rita", limit=3, before=alices))  # same organisation, another user
    _problem_400(_get(node, "bob", limit=3, before=alices))
    _problem_400(_get(node, "admin", limit=3, before=alices))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if c[-2:] != "AA" else "BB"),  # the signature
        lambda c: c[:5] + ("A" if c[5] != "A" else "B") + c[6:],  # the issue time
        lambda c: c[:15] + ("A" if c[15] != "A" else "B") + c[16:],  # the nonce
        lambda c: c[:-24] + ("A" if c[-24] != "A" else "B") + c[-23:],  # the position
        lambda c: c[:-1],
        lambda c: c + "A",
        lambda c: "not a cursor!",
        lambda c: "",
        lambda c: "12",  # what a numeric cursor looked like
        lambda c: "A" * 200,
        lambda c: "A" * 5000,
        lambda c: "%00",
    ],
)
def test_a_tampered_or_garbled_cursor_is_400(node: Node, community: dict[str, list[str]], tamper: Any):
    good = _get(node, "bob", limit=3).json()["next"]
    _problem_400(_get(node, "bob", limit=3, before=tamper(good)))


def test_a_stale_cursor_is_400(node: Node, community: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch):
    old = _get(node, "bob", limit=3).json()["next"]
    later = time.time() + cursors.MAX_AGE_S + 60
    monkeypatch.setattr(cursors.time, "time", lambda: later)
    assert "expired" in _problem_400(_get(node, "bob", limit=3, before=old))["detail"]
    fresh = _get(node, "bob", limit=3).json()["next"]
    assert _get(node, "bob", limit=3, before=fresh).status_code == 200


def test_a_cursor_shows_no_sequence_number(node: Node, community: dict[str, list[str]]):
    body = _get(node, "bob", limit=3).json()
    cursor = body["next"]
    with get_engine().connect() as conn:
        seq = conn.execute(select(func.max(stix_object.c.seq)).where(stix_object.c.id == body["objects"][-1]["id"]))
        position = seq.scalar_one()
    assert position >= 10**6  # sequences are date_added in µs: a chance match in the text is negligible
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert str(position) not in cursor
    assert str(position).encode() not in raw
    for layout in (">q", "<q"):
        assert struct.pack(layout, position) not in raw
    # The same page twice: two different cursors (a fresh mask each time), both valid and leading to one page.
    again = _get(node, "bob", limit=3).json()["next"]
    assert again != cursor
    one, other = _get(node, "bob", limit=3, before=cursor).json(), _get(node, "bob", limit=3, before=again).json()
    assert one["objects"] == other["objects"]
    assert one["next"] != other["next"]


def test_audit_pages_with_an_opaque_cursor(node: Node):
    with get_engine().begin() as conn:
        accounts.create_user(conn, "other-admin@node.example", "Host Organisation", "admin", None)
        other = accounts.create_token(conn, "other-admin@node.example")
    whole = _get(node, "admin", "/api/v1/audit", limit=1000).json()
    assert "next" not in whole
    entries, cursor = [], None
    while True:
        body = _get(node, "admin", "/api/v1/audit", limit=3, **({"after": cursor} if cursor else {})).json()
        entries += body["entries"]
        cursor = body.get("next")
        if cursor is None:
            break
        assert not cursor.isdigit()
    assert entries == whole["entries"]
    first = _get(node, "admin", "/api/v1/audit", limit=3).json()["next"]
    foreign = node.client.get("/api/v1/audit", params={"after": first}, headers={"Authorization": f"Bearer {other}"})
    assert "after is not a valid" in _problem_400(foreign)["detail"]
    _problem_400(_get(node, "admin", "/api/v1/audit", after="3"))
    _problem_400(_get(node, "admin", "/api/v1/audit", after=first[:-3]))


def test_the_openapi_document_describes_the_cursors(node: Node):
    spec = node.client.get("/api/v1/openapi.json").json()
    for path, name in (("/api/v1/objects", "before"), ("/api/v1/audit", "after")):
        [param] = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert "opaque" in param["description"]
        assert "integer" not in str(param["schema"])
