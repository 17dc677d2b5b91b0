"""Integers past 64 bits anywhere a request carries a number give a 4xx answer, never a 500 (issue 23 item 8)."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Node

BIG = 2**70
TAXII = {"Accept": "application/taxii+json;version=2.1"}


def _refused(response, media: str = "application/problem+json") -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(media)


@pytest.mark.parametrize("value", [BIG, -BIG, 2**63, 2**64 - 1])
def test_bodies(node: Node, value: int) -> None:
    admin, c = node.bearer("admin"), node.client
    _refused(c.post("/api/v1/tokens", json={"email": "bob@bravo.example", "expires_days": value}, headers=admin))
    feed = {"name": "f", "url": "https://feeds.example/list.txt", "format": "text"}
    _refused(c.post("/api/v1/feeds", json={**feed, "every_minutes": value}, headers=admin))
    _refused(c.post("/api/v1/feeds", json={**feed, "max_bytes": value}, headers=admin))
    assert c.post("/api/v1/feeds", json=feed, headers=admin).status_code == 201
    _refused(c.patch("/api/v1/feeds/f", json={"every_minutes": value}, headers=admin))
    _refused(c.patch("/api/v1/feeds/f", json={"max_bytes": value}, headers=admin))
    peer = {"name": "p", "url": "https://peer.example/taxii2/api/", "org": "Alpha"}
    assert c.post("/api/v1/peers", json=peer, headers=admin).status_code == 201
    sub = {"direction": "pull", "remote_collection": "c1", "collection": "x", "every_seconds": value}
    _refused(c.post("/api/v1/peers/p/subscriptions", json=sub, headers=admin))
    _refused(c.post("/api/v1/peers", json={**peer, "name": "q", "timeout_seconds": value}, headers=admin))


@pytest.mark.parametrize("value", [str(BIG), str(-BIG), "1e400", "NaN"])
def test_query_and_path_numbers(node: Node, value: str) -> None:
    admin, c = node.bearer("admin"), node.client
    for path, param in (
        ("/api/v1/objects", "before"),
        ("/api/v1/objects", "limit"),
        ("/api/v1/audit", "after"),
        ("/api/v1/audit", "limit"),
        ("/api/v1/extract/drafts", "limit"),
    ):
        _refused(c.get(path, params={param: value}, headers=admin))
    _refused(c.get(f"/api/v1/extract/drafts/{value}", headers=admin))
    made = c.post("/api/v1/collections", json={"title": "Intel", "alias": "intel", "read": ["Alpha"]}, headers=admin)
    assert made.status_code == 201, made.text
    for param in ("limit", "next", "added_after"):
        for tail in ("objects/", "manifest/"):
            r = c.get(f"/taxii2/api/collections/intel/{tail}", params={param: value}, headers={**admin, **TAXII})
            # a huge limit is capped to the page limit (200); anything else is refused as a TAXII error
            assert r.status_code == 200 if (param, value) == ("limit", str(BIG)) else 400, (param, r.text)
            assert r.headers["content-type"].startswith("application/taxii+json")
