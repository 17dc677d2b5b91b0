"""Notification feeds: assigned tasks, comments on my cases, answers to my requests; read/unread; an entry
about something the user may no longer read disappears; nobody else sees or marks them."""

from __future__ import annotations

import pytest

from tests.integration.joint.conftest import Node

pytestmark = pytest.mark.usefixtures("db_url")


def _feed(node: Node, who: str, **params) -> dict:
    r = node.client.get("/api/v1/notifications", params=params, headers=node.h(who))
    assert r.status_code == 200, r.text
    return r.json()


def test_feeds_tell_each_user_what_concerns_them(node: Node) -> None:
    c, h = node.client, node.h
    cid = c.post("/api/v1/cases", json={"title": "Port", "participants": ["Bravo"]}, headers=h("alice")).json()["id"]
    task = c.post(
        f"/api/v1/cases/{cid}/tasks", json={"title": "Block", "assignee": "bob@bravo.example"}, headers=h("alice")
    ).json()
    c.post(f"/api/v1/cases/{cid}/comments", json={"content": "on it"}, headers=h("bob"))
    rid = c.post("/api/v1/rfis", json={"title": "Seen it?", "to": ["Bravo"]}, headers=h("alice")).json()["id"]
    c.post(f"/api/v1/rfis/{rid}/answers", json={"content": "yes"}, headers=h("bob"))

    bob = _feed(node, "bob")
    assert [(n["kind"], n["subject"]) for n in bob["notifications"]] == [("task.assigned", task["id"])]
    assert bob["unread"] == 1
    alice = _feed(node, "alice")
    assert [(n["kind"], n["subject"]) for n in alice["notifications"]] == [("rfi.answer", rid), ("case.comment", cid)]
    assert "on it" in alice["notifications"][1]["summary"]
    assert _feed(node, "carol") == {"notifications": [], "unread": 0}

    # Read and unread: only one's own entries change.
    first = alice["notifications"][0]["id"]
    ids = [n["id"] for n in alice["notifications"]]
    assert c.post("/api/v1/notifications/read", json={"ids": ids}, headers=h("carol")).json() == {"changed": 0}
    assert c.post("/api/v1/notifications/read", json={"ids": [first]}, headers=h("alice")).json() == {"changed": 1}
    unread = _feed(node, "alice", unread=True)
    assert [n["kind"] for n in unread["notifications"]] == ["case.comment"]
    assert unread["unread"] == 1
    assert c.post("/api/v1/notifications/read", json={}, headers=h("alice")).json() == {"changed": 1}
    assert _feed(node, "alice")["unread"] == 0
    assert c.post("/api/v1/notifications/read", json={"ids": [first], "read": False}, headers=h("alice")).json() == {
        "changed": 1
    }

    # Bravo leaves the case: what Bob was told about it is no longer his to see.
    c.post(f"/api/v1/cases/{cid}/participants", json={"remove": ["Bravo"]}, headers=h("alice"))
    assert _feed(node, "bob") == {"notifications": [], "unread": 0}


def test_feeds_page_by_keyset(node: Node) -> None:
    c, h = node.client, node.h
    cid = c.post("/api/v1/cases", json={"title": "Port", "participants": ["Bravo"]}, headers=h("alice")).json()["id"]
    for i in range(5):
        c.post(
            f"/api/v1/cases/{cid}/tasks", json={"title": f"t{i}", "assignee": "bob@bravo.example"}, headers=h("alice")
        )
    seen, after = [], None
    while True:
        page = _feed(node, "bob", limit=2, **({"after": after} if after else {}))
        seen += [n["summary"] for n in page["notifications"]]
        after = page.get("next")
        if after is None:
            break
    assert [s.split("'")[1] for s in seen] == ["t4", "t3", "t2", "t1", "t0"]
