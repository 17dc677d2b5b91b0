"""Feeds over REST: admins only, passwords stored encrypted and never returned, clear 4xx on bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from accord.core.db import get_engine
from accord.core.settings import get_settings
from accord.models.audit import audit_log
from accord.models.feeds import feed
from tests.integration.api.conftest import Node
from tests.integration.feeds.conftest import fixture_files
from tests.integration.feeds.server import FeedServer, serve

PASSWORD = "feed-pass-9c1e"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    # The server is on loopback, which feeds refuse unless allowed (test_feed_guard.py shows the default).
    monkeypatch.setenv("ACCORD_FEEDS_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    with serve(FeedServer(files=fixture_files())) as state:
        yield state


def _body(server: FeedServer, **extra: Any) -> dict[str, Any]:
    return {"name": "blocklist", "url": server.url("blocklist.txt"), "format": "text", **extra}


def test_admins_add_list_edit_pull_and_remove_feeds(node: Node, server: FeedServer) -> None:
    admin = node.bearer("admin")
    server.basic = ("reader", PASSWORD)
    r = node.client.post(
        "/api/v1/feeds", json=_body(server, username="reader", password=PASSWORD, every_minutes=10), headers=admin
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["has_password"] is True
    assert created["org"] == "Host Organisation"
    assert (created["every_minutes"], created["enabled"], created["pulls"]) == (10, True, 0)
    assert created["next_due_us"] is not None
    assert PASSWORD not in r.text
    assert "password" not in created

    r = node.client.post("/api/v1/feeds/blocklist/pull", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    assert r.json()["stored"] > 0

    listed = node.client.get("/api/v1/feeds", headers=admin)
    assert listed.status_code == 200
    assert [f["name"] for f in listed.json()] == ["blocklist"]
    assert listed.json()[0]["last_status"] == "ok"
    assert listed.json()[0]["pulls"] == 1
    assert PASSWORD not in listed.text

    r = node.client.patch("/api/v1/feeds/blocklist", json={"enabled": False, "tlp": "amber"}, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["tlp"], r.json()["next_due_us"]) == (False, "amber", None)
    r = node.client.patch("/api/v1/feeds/blocklist", json={"every_minutes": None, "password": "new"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["every_minutes"] is None
    assert r.json()["has_password"] is True
    assert "password" not in r.json()
    with get_engine().connect() as conn:
        stored = conn.execute(select(feed.c.password)).scalar_one()
        audited = " ".join(str(tuple(row)) for row in conn.execute(select(audit_log)))
    assert stored.startswith("enc:")
    assert PASSWORD not in audited
    assert "feed.edit" in audited

    got = node.client.get("/api/v1/feeds/blocklist", headers=admin)
    assert got.status_code == 200
    assert got.json()["last_status"] == "ok"
    assert node.client.delete("/api/v1/feeds/blocklist", headers=admin).status_code == 204
    assert node.client.get("/api/v1/feeds/blocklist", headers=admin).status_code == 404
    assert node.client.delete("/api/v1/feeds/blocklist", headers=admin).status_code == 404
    assert node.client.post("/api/v1/feeds/blocklist/pull", headers=admin).status_code == 404
    # The name is free again.
    assert node.client.post("/api/v1/feeds", json=_body(server), headers=admin).status_code == 201


def test_feeds_are_for_admins_only(node: Node, server: FeedServer) -> None:
    body = _body(server)
    for who in ("alice", "rita"):
        headers = node.bearer(who)
        assert node.client.get("/api/v1/feeds", headers=headers).status_code == 403
        assert node.client.post("/api/v1/feeds", json=body, headers=headers).status_code == 403
    read_only = node.bearer("admin-ro")
    assert node.client.post("/api/v1/feeds", json=body, headers=read_only).status_code == 403
    assert node.client.post("/api/v1/feeds", json=body, headers=node.bearer("admin")).status_code == 201
    assert node.client.get("/api/v1/feeds", headers=read_only).status_code == 200
    for who in ("alice", "admin-ro"):
        headers = node.bearer(who)
        assert node.client.patch("/api/v1/feeds/blocklist", json={"enabled": False}, headers=headers).status_code == 403
        assert node.client.delete("/api/v1/feeds/blocklist", headers=headers).status_code == 403
        assert node.client.post("/api/v1/feeds/blocklist/pull", headers=headers).status_code == 403
    assert node.client.get("/api/v1/feeds").status_code == 401


def test_bad_feed_settings_get_a_clear_4xx(node: Node, server: FeedServer) -> None:
    admin = node.bearer("admin")
    cases: list[tuple[dict[str, Any], int, str]] = [
        (_body(server, url="ftp://x.example/"), 400, "http"),
        (_body(server, name="bad name!"), 400, "feed name"),
        (_body(server, format="rss"), 400, "format"),
        (_body(server, format="taxii"), 400, "taxii-collection"),
        (_body(server, org="Nobody"), 404, "Nobody"),
        (_body(server, collection="nope"), 404, "nope"),
        (_body(server, every_minutes=0), 422, "every_minutes"),
        (_body(server, max_bytes="lots"), 422, "max_bytes"),
    ]
    for body, status, words in cases:
        r = node.client.post("/api/v1/feeds", json=body, headers=admin)
        assert r.status_code == status, (body, r.text)
        assert words.lower() in r.text.lower()
    assert node.client.post("/api/v1/feeds", json=_body(server), headers=admin).status_code == 201
    assert node.client.post("/api/v1/feeds", json=_body(server), headers=admin).status_code == 409
    for patch, status in (({"url": None}, 400), ({"tlp": "purple"}, 400), ({}, 400), ({"enabled": "maybe"}, 422)):
        r = node.client.patch("/api/v1/feeds/blocklist", json=patch, headers=admin)
        assert r.status_code == status, (patch, r.text)
    assert node.client.patch("/api/v1/feeds/nope", json={"enabled": True}, headers=admin).status_code == 404
