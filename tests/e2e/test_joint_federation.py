"""Joint work across two real nodes (issue 20): Alpha on node 1 opens cases, asks requests and agrees requirements
with Beta, whose analysts work on node 2. Each node holds a record of the other's organisation with the identity
it has at home (`accord org create NAME --remote-identity ID`), so participants and what each side makes resolve
to the same organisations on both nodes. No subscription is made by hand per case, request or requirement: each
`accord sync` first follows the joint collections the peer shares (accord.federation.follow), so node 2 pulls a
case from node 1 and node 1 pulls back what Beta adds; case views, task queues, timelines, requests and
requirements converge, and a concurrent edit (of a case or of a task) shows as a conflict on both nodes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.nodes import Node, indicator, make_node

pytestmark = pytest.mark.e2e


@dataclass
class Pair:
    one: Node
    two: Node
    alice: str  # analyst of Alpha on node 1
    anna: str  # another analyst of Alpha on node 1
    bob: str  # analyst of Beta on node 2
    sync_beta_on_one: str  # node 2's account on node 1


def _api(node: Node, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{node.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _identity(node: Node, org: str) -> str:
    with _api(node, node.tokens[f"admin@{node.name.lower()}.example"]) as c:
        (found,) = [o["identity"] for o in c.get("/orgs").json() if o["name"] == org]
    return str(found)


def _ok(r: httpx.Response) -> Any:
    assert r.status_code in (200, 201), f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, e2e_backend: str) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("joint")
    one, two = make_node(root, "N1", "Alpha", e2e_backend), make_node(root, "N2", "Beta", e2e_backend)
    try:
        one.start()
        two.start()
        # Each node records the other's organisation under the identity it has at home (exchanged out of band,
        # like the node keys), and gives the other node a sync account of that record.
        one.cli("org", "create", "Beta", "--remote-identity", _identity(two, "Beta"))
        two.cli("org", "create", "Alpha", "--remote-identity", _identity(one, "Alpha"))
        alice = one.user("alice@alpha.example", "Alpha", "analyst")
        anna = one.user("anna@alpha.example", "Alpha", "analyst")
        sync_beta_on_one = one.user("sync@beta.example", "Beta", "sync")
        bob = two.user("bob@beta.example", "Beta", "analyst")
        sync_alpha_on_two = two.user("sync@alpha.example", "Alpha", "sync")
        # Node 2 keeps the case work it shares with Alpha in one collection, which Alpha's account reads.
        two.cli("collection", "create", "Work with Alpha", "--alias", "with-alpha", "--read", "Beta", "--read",
                "Alpha", "--write", "Beta")  # fmt: skip
        one.add_peer("two", two, "Alpha", sync_alpha_on_two, remote_org="Beta")
        two.add_peer("one", one, "Beta", sync_beta_on_one, remote_org="Alpha")
        yield Pair(one, two, alice, anna, bob, sync_beta_on_one)
    finally:
        one.stop()
        two.stop()


def _timeline(node: Node, token: str, cid: str) -> list[dict[str, Any]]:
    with _api(node, token) as c:
        return list(_ok(c.get(f"/cases/{cid}/timeline", params={"limit": 500}))["events"])


def test_a_case_is_worked_from_two_nodes_and_converges(pair: Pair) -> None:
    one, two = pair.one, pair.two
    with _api(one, pair.alice) as a:
        case = _ok(a.post("/cases", json={"title": "Port intrusion", "participants": ["Beta"], "tlp": "amber"}))
        cid = case["id"]
        assert case["participants"] == ["Alpha", "Beta"]
        task = _ok(a.post(f"/cases/{cid}/tasks", json={"title": "Block at the edge"}))
    alias = case["collection"]

    # Node 2 follows the case's collection on node 1 (Beta's account reads it: Beta takes part), made by itself.
    two.cli("sync", "one")
    assert alias in two.cli("peer", "status", "one").stdout
    with _api(two, pair.bob) as b:
        listed = _ok(b.get("/cases"))["cases"]
        assert [(x["id"], x["title"], x["owner"]) for x in listed] == [(cid, "Port intrusion", "Alpha")]
        seen = _ok(b.get(f"/cases/{cid}"))
        assert seen["participants"] == ["Alpha", "Beta"]
        assert [t["id"] for t in _ok(b.get(f"/cases/{cid}/tasks"))["tasks"]] == [task["id"]]
        # Beta's analyst takes the task, logs work and comments, on node 2.
        took = _ok(b.patch(f"/tasks/{task['id']}", json={"assignee": "bob@beta.example", "status": "doing"}))
        assert (took["assignee"], took["status"]) == ("bob@beta.example", "doing")
        _ok(b.post(f"/tasks/{task['id']}/logs", json={"content": "rule pushed to fw-1"}))
        _ok(b.post(f"/cases/{cid}/comments", json={"content": "seen on our side too"}))
        assert [t["id"] for t in _ok(b.get("/tasks", params={"mine": 1}))["tasks"]] == [task["id"]]

    # Node 1 follows the case's collection on node 2 (where Beta's work on it is) and pulls it; Alpha sees it.
    one.cli("sync", "two")
    assert alias in one.cli("peer", "status", "two").stdout
    with _api(one, pair.alice) as a:
        got = _ok(a.get(f"/tasks/{task['id']}"))
        assert (got["assignee"], got["status"]) == ("bob@beta.example", "doing")
        assert [(e["author"], e["content"]) for e in got["log"]][-1] == ("bob@beta.example", "rule pushed to fw-1")
        assert len(got["log"]) == 2
    events = [(e["kind"], e["actor"], e["summary"]) for e in _timeline(one, pair.alice, cid)]
    assert ("comment", "bob@beta.example", "seen on our side too") in events

    # Two of Alpha's analysts edit the title concurrently (both on the version they loaded).
    base = case["version"]
    with _api(one, pair.alice) as a, _api(one, pair.anna) as n:
        _ok(a.patch(f"/cases/{cid}", json={"title": "Port intrusion (edge)", "base_version": base}))
        _ok(n.patch(f"/cases/{cid}", json={"title": "Port intrusion (proxy)", "base_version": base}))
    two.cli("sync", "one")
    views = []
    for node, token in ((one, pair.alice), (two, pair.bob)):
        with _api(node, token) as c:
            views.append(_ok(c.get(f"/cases/{cid}")))
    assert views[0]["title"] == views[1]["title"] == "Port intrusion (proxy)"
    assert views[0]["version"] == views[1]["version"]
    for node, token in ((one, pair.alice), (two, pair.bob)):
        kinds = [e["kind"] for e in _timeline(node, token, cid)]
        assert kinds.count("conflict") == 1, (node.name, kinds)
        assert kinds[-3:] == ["case.edit", "conflict", "case.edit"], (node.name, kinds)
    # Nothing lost: the first version and both edits are versions of the case on both nodes.
    history = []
    for node, token in ((one, pair.alice), (two, pair.bob)):
        with _api(node, token) as c:
            history.append(_ok(c.get(f"/objects/{cid}/versions"))["versions"])
    assert history[0] == history[1]
    assert len(history[0]) == 3

    # The same work on both nodes: every task, comment and log entry shows on each.
    def work(node: Node, token: str) -> set[tuple[str, str]]:
        return {(e["kind"], e["summary"]) for e in _timeline(node, token, cid) if e["kind"] in ("comment", "task.log")}

    assert work(one, pair.alice) == work(two, pair.bob)


def test_a_concurrent_task_edit_on_two_nodes_converges_with_a_conflict(pair: Pair) -> None:
    one, two = pair.one, pair.two
    with _api(one, pair.alice) as a:
        cid = _ok(a.post("/cases", json={"title": "Phishing wave", "participants": ["Beta"]}))["id"]
        task = _ok(a.post(f"/cases/{cid}/tasks", json={"title": "Collect headers"}))
    two.cli("sync", "one")
    # Both nodes change the task before hearing of the other's change: Alpha (its owner) by a new version on
    # node 1, then Beta by a task-log note on node 2.
    with _api(one, pair.alice) as a:
        _ok(a.patch(f"/tasks/{task['id']}", json={"status": "blocked"}))
    with _api(two, pair.bob) as b:
        _ok(b.patch(f"/tasks/{task['id']}", json={"status": "done"}))
    two.cli("sync", "one")
    one.cli("sync", "two")
    states = []
    for node, token in ((one, pair.alice), (two, pair.bob)):
        with _api(node, token) as c:
            got = _ok(c.get(f"/tasks/{task['id']}"))
        states.append((got["status"], got["updated"]))
        conflicts = [e for e in _timeline(node, token, cid) if e["kind"] == "conflict"]
        assert len(conflicts) == 1, (node.name, conflicts)
        assert conflicts[0]["summary"].startswith("Collect headers: "), conflicts
    assert states[0] == states[1]
    assert states[0][0] == "done"  # the newest change wins on both nodes
    # Nothing lost: Alpha's version of the task is in its history on both nodes.
    for node, token in ((one, pair.alice), (two, pair.bob)):
        with _api(node, token) as c:
            assert len(_ok(c.get(f"/objects/{task['id']}/versions"))["versions"]) == 2


def test_a_request_to_a_partner_on_another_node_is_answered_there(pair: Pair) -> None:
    one, two = pair.one, pair.two
    with _api(one, pair.alice) as a:
        asked = _ok(a.post("/rfis", json={"title": "Seen 203.0.113.7?", "question": "Any hits?", "to": ["Beta"],
                                          "values": ["203.0.113.7"]}))  # fmt: skip
    rid = asked["id"]
    two.cli("sync", "one")
    with _api(two, pair.bob) as b:
        listed = _ok(b.get("/rfis"))["rfis"]
        assert [(x["id"], x["from"], x["status"]) for x in listed] == [(rid, "Alpha", "open")]
        seen = _ok(b.get(f"/rfis/{rid}"))
        assert (seen["question"], seen["values"], seen["to"]) == ("Any hits?", ["203.0.113.7"], ["Beta"])
        _ok(b.post(f"/rfis/{rid}/answers", json={"content": "yes, on two gateways"}))
    one.cli("sync", "two")
    with _api(one, pair.alice) as a:
        got = _ok(a.get(f"/rfis/{rid}"))
        assert got["status"] == "answered"
        assert [(x["org"], x["author"], x["content"]) for x in got["answers"]] == [
            ("Beta", "bob@beta.example", "yes, on two gateways")
        ]
        assert got["response_seconds"]["Beta"] >= 0
        feed = _ok(a.get("/notifications"))["notifications"]
        assert [n["subject"] for n in feed if n["kind"] == "rfi.answer"] == [rid]
        _ok(a.post(f"/rfis/{rid}/close", json={"reason": "thanks"}))
    two.cli("sync", "one")
    with _api(two, pair.bob) as b:
        assert _ok(b.get(f"/rfis/{rid}"))["status"] == "closed"
        assert b.post(f"/rfis/{rid}/answers", json={"content": "late"}).status_code == 409


def test_a_requirement_agreed_with_a_partner_on_another_node_matches_its_content_there(pair: Pair) -> None:
    one, two = pair.one, pair.two
    with _api(one, pair.alice) as a:
        made = _ok(a.post("/pirs", json={"title": "Harbour cranes", "participants": ["Beta"],
                                         "criteria": {"keywords": ["harbour crane"]}}))  # fmt: skip
    pid = made["id"]
    two.cli("sync", "one")
    found = indicator("Harbour crane beacon")
    two.post(pair.bob, "with-alpha", [found])
    with _api(two, pair.bob) as b:
        listed = _ok(b.get("/pirs"))["pirs"]
        assert [(x["id"], x["owner"], x["status"]) for x in listed] == [(pid, "Alpha", "active")]
        seen = _ok(b.get(f"/pirs/{pid}"))
        assert (seen["participants"], seen["criteria"]["keywords"]) == (["Alpha", "Beta"], ["harbour crane"])
        matches = _ok(b.get(f"/pirs/{pid}/matches"))["matches"]
        assert [(m["object_id"], m["matched"]) for m in matches] == [(found["id"], "harbour crane")]
    # A new version from its owner changes it on node 2 too.
    with _api(one, pair.alice) as a:
        _ok(a.patch(f"/pirs/{pid}", json={"status": "inactive"}))
    two.cli("sync", "one")
    with _api(two, pair.bob) as b:
        assert _ok(b.get(f"/pirs/{pid}"))["status"] == "inactive"
