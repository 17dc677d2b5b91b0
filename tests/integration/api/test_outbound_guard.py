"""One guard for every outbound fetch (issue 23 item 8): feeds, like extraction, refuse loopback and private
addresses unless the node allows them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.core.settings import get_settings
from tests.integration.api.conftest import Node
from tests.integration.feeds.server import FeedServer, serve


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with serve(FeedServer(files={"list.txt": b"198.51.100.7\n"})) as state:
        yield state


def _add_and_pull(node: Node, server: FeedServer, fmt: str) -> dict:
    admin = node.bearer("admin")
    body = {"name": f"loop-{fmt}", "url": server.url("list.txt"), "format": fmt}
    if fmt == "taxii":
        body["taxii_collection"] = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    created = node.client.post("/api/v1/feeds", json=body, headers=admin)
    assert created.status_code == 201, created.text
    r = node.client.post(f"/api/v1/feeds/loop-{fmt}/pull", headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("fmt", ["text", "csv", "misp", "taxii"])
def test_feeds_refuse_loopback_by_default(node: Node, server: FeedServer, fmt: str) -> None:
    assert get_settings().feeds_allow_private is False
    result = _add_and_pull(node, server, fmt)
    assert result["status"] == "error"
    assert "non-public address 127.0.0.1" in result["error"]
    assert result["stored"] == 0
    assert server.requests == []  # refused before connecting: nothing was sent


def test_feeds_reach_loopback_when_allowed(node: Node, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_FEEDS_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    result = _add_and_pull(node, server, "text")
    assert (result["status"], result["stored"]) == ("ok", 1)
    assert len(server.requests) == 1


def test_extraction_refuses_loopback_through_the_same_guard(node: Node, server: FeedServer) -> None:
    r = node.client.post("/api/v1/extract", json={"url": server.url("list.txt")}, headers=node.bearer("alice"))
    assert r.status_code >= 400
    assert r.status_code < 500
    assert "non-public address 127.0.0.1" in r.json()["detail"]
    assert server.requests == []
