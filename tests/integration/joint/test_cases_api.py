"""Cases and tasks through the REST API: versions and conflicts, participants, paging, precise 4xx answers,
valid STIX, the audit log."""

from __future__ import annotations

import uuid

import pytest
from stix2validator import validate_instance

from accord.stix.markings import Tlp, tlp_marking_definition
from tests.integration.joint.conftest import Node

pytestmark = pytest.mark.usefixtures("db_url")


def _case(node: Node, who: str = "alice", **extra) -> dict:
    r = node.client.post(
        "/api/v1/cases", json={"title": "Case", "participants": ["Bravo"], **extra}, headers=node.h(who)
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_case_objects_are_valid_stix_with_the_shipped_extension_definitions(node: Node) -> None:
    c, h = node.client, node.h
    cid = _case(node, object_ids=node.indicator_ids)["id"]
    task = c.post(
        f"/api/v1/cases/{cid}/tasks", json={"title": "t", "assignee": "bob@bravo.example"}, headers=h("alice")
    )
    tid = task.json()["id"]
    c.patch(f"/api/v1/tasks/{tid}", json={"status": "doing"}, headers=h("bob"))
    c.post(f"/api/v1/cases/{cid}/comments", json={"content": "hello"}, headers=h("bob"))
    c.post(f"/api/v1/cases/{cid}/links", json={"object_ids": [f"malware--{uuid.uuid4()}"]}, headers=h("bob"))
    stored = c.get("/api/v1/objects?type=x-accord-case&type=x-accord-task&type=note&type=grouping", headers=h("bob"))
    objs = stored.json()["objects"]
    assert sorted(o["type"] for o in objs) == ["grouping", "note", "note", "x-accord-case", "x-accord-task"]
    shipped = c.get("/api/v1/joint/extensions", headers=h("bob")).json()["objects"]
    identities = [c.get(f"/api/v1/objects/{o['created_by_ref']}", headers=h("bob")).json() for o in objs]
    unique = {o["id"]: o for o in [*shipped, *identities, tlp_marking_definition(Tlp.AMBER), *objs]}
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(unique.values())}
    result = validate_instance(bundle)
    assert result.is_valid, [str(e) for e in result.errors]
    assert [str(w) for w in result.warnings] == []


def test_every_change_is_a_new_version_and_a_stale_edit_shows_as_a_conflict(node: Node) -> None:
    c, h = node.client, node.h
    case = _case(node)
    cid, first = case["id"], case["version"]
    second = c.patch(f"/api/v1/cases/{cid}", json={"title": "Renamed", "base_version": first}, headers=h("alice"))
    assert second.status_code == 200
    assert second.json()["title"] == "Renamed"
    stale = c.patch(f"/api/v1/cases/{cid}", json={"severity": "high", "base_version": first}, headers=h("anna"))
    assert stale.status_code == 200
    assert stale.json()["title"] == "Renamed"
    assert stale.json()["severity"] == "high"
    events = c.get(f"/api/v1/cases/{cid}/timeline", headers=h("bob")).json()["events"]
    assert [e["kind"] for e in events] == ["case.create", "case.edit", "conflict", "case.edit"]
    assert events[2]["actor"] == "anna@alpha.example"
    assert first in events[2]["summary"]
    versions = c.get(f"/api/v1/objects/{cid}/versions", headers=h("bob")).json()["versions"]
    assert len(versions) == 3
    assert versions[0] == first
    assert versions == sorted(versions)

    # A task's own organisation versions it; another participant's change is a task-log note.
    tid = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "t"}, headers=h("alice")).json()["id"]
    assert c.patch(f"/api/v1/tasks/{tid}", json={"due": "2026-12-31T00:00:00Z"}, headers=h("alice")).status_code == 200
    assert len(c.get(f"/api/v1/objects/{tid}/versions", headers=h("bob")).json()["versions"]) == 2
    assert c.patch(f"/api/v1/tasks/{tid}", json={"title": "mine now"}, headers=h("bob")).status_code == 403
    assert c.patch(f"/api/v1/tasks/{tid}", json={"status": "blocked"}, headers=h("bob")).json()["status"] == "blocked"
    assert len(c.get(f"/api/v1/objects/{tid}/versions", headers=h("bob")).json()["versions"]) == 2


def test_only_the_owner_changes_participants_and_a_removed_partner_loses_the_case(node: Node) -> None:
    c, h = node.client, node.h
    cid = _case(node)["id"]
    assert c.post(f"/api/v1/cases/{cid}/participants", json={"add": ["Charlie"]}, headers=h("bob")).status_code == 403
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).status_code == 404
    added = c.post(f"/api/v1/cases/{cid}/participants", json={"add": ["Charlie"]}, headers=h("alice"))
    assert added.json()["participants"] == ["Alpha", "Bravo", "Charlie"]
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).status_code == 200
    tid = c.post(
        f"/api/v1/cases/{cid}/tasks", json={"title": "t", "assignee": "carol@charlie.example"}, headers=h("carol")
    ).json()["id"]
    assert [t["id"] for t in c.get("/api/v1/tasks?mine=1", headers=h("carol")).json()["tasks"]] == [tid]

    removed = c.post(f"/api/v1/cases/{cid}/participants", json={"remove": ["Charlie"]}, headers=h("alice"))
    assert removed.json()["participants"] == ["Alpha", "Bravo"]
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).status_code == 404
    assert c.get("/api/v1/tasks?mine=1", headers=h("carol")).json() == {"tasks": []}
    assert c.post(f"/api/v1/cases/{cid}/comments", json={"content": "x"}, headers=h("carol")).status_code == 404
    # What Charlie contributed stays with the case (nothing lost).
    assert [t["id"] for t in c.get(f"/api/v1/cases/{cid}/tasks", headers=h("bob")).json()["tasks"]] == [tid]
    owner_out = c.post(f"/api/v1/cases/{cid}/participants", json={"remove": ["Alpha"]}, headers=h("alice"))
    assert owner_out.status_code == 400


def test_case_lists_page_by_keyset_with_cursors_bound_to_the_caller(node: Node) -> None:
    c, h = node.client, node.h
    made = [_case(node, title=f"case {i}")["id"] for i in range(5)]
    _case(node, who="carol", participants=[])  # not readable by Bravo: never counted or paged over
    seen, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = c.get("/api/v1/cases", params=params, headers=h("bob")).json()
        seen += [x["id"] for x in page["cases"]]
        after = page.get("next")
        if after is None:
            break
    assert seen == made[::-1]
    first = c.get("/api/v1/cases", params={"limit": 2}, headers=h("bob")).json()
    foreign = c.get("/api/v1/cases", params={"limit": 2, "after": first["next"]}, headers=h("carol"))
    assert foreign.status_code == 400
    assert foreign.json()["detail"] == "after is not a valid token for this query"
    assert c.get("/api/v1/cases", params={"status": "closed"}, headers=h("bob")).json() == {"cases": []}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"title": "x", "tlp": "red"}, 400, "a case is TLP:CLEAR, TLP:GREEN or TLP:AMBER"),
        ({"title": "x", "severity": "huge"}, 400, "severity must be one of"),
        ({"title": "x", "participants": ["Nobody"]}, 404, "no organisation"),
        ({"title": "x", "assignees": ["carol@charlie.example"]}, 400, "is not a user of a participating"),
        ({"title": "x", "object_ids": ["not-an-id"]}, 400, "is not a valid STIX identifier"),
        ({"title": "x", "from_report": f"report--{uuid.uuid4()}"}, 404, "no report"),
        ({"title": ""}, 422, ""),
    ],
)
def test_bad_case_input_gets_a_precise_4xx(node: Node, body: dict, status: int, detail: str) -> None:
    r = node.client.post("/api/v1/cases", json=body, headers=node.h("alice"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert detail in str(r.json()["detail"])


def test_roles_transitions_and_unknown_ids(node: Node) -> None:
    c, h = node.client, node.h
    cid = _case(node)["id"]
    assert c.post("/api/v1/cases", json={"title": "x"}, headers=h("rita")).status_code == 403
    assert c.get(f"/api/v1/cases/{cid}", headers=h("rita")).status_code == 200
    assert c.get(f"/api/v1/cases/{cid}").status_code == 401
    assert c.get("/api/v1/cases/garbage", headers=h("alice")).status_code == 404
    assert c.patch(f"/api/v1/cases/{cid}", json={"title": "x"}, headers=h("bob")).status_code == 403
    closed = c.post(f"/api/v1/cases/{cid}/status", json={"status": "closed", "reason": "r"}, headers=h("alice"))
    assert closed.status_code == 409
    assert closed.json()["detail"] == "a case that is open cannot become closed"
    assert c.patch(f"/api/v1/cases/{cid}", json={}, headers=h("alice")).status_code == 400
    bad_due = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "t", "due": "tomorrow"}, headers=h("alice"))
    assert bad_due.status_code == 400
    assert "not a STIX timestamp" in bad_due.json()["detail"]
    # An admin of another organisation reads every case (R0) but does not take part in it.
    assert c.get(f"/api/v1/cases/{cid}", headers=h("admin")).status_code == 200
    assert c.post(f"/api/v1/cases/{cid}/comments", json={"content": "x"}, headers=h("admin")).status_code == 403


def test_every_joint_write_is_audited(node: Node) -> None:
    c, h = node.client, node.h
    cid = _case(node)["id"]
    tid = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "t"}, headers=h("alice")).json()["id"]
    c.patch(f"/api/v1/tasks/{tid}", json={"status": "doing"}, headers=h("bob"))
    c.post(f"/api/v1/tasks/{tid}/logs", json={"content": "x"}, headers=h("bob"))
    c.post(f"/api/v1/cases/{cid}/comments", json={"content": "x"}, headers=h("bob"))
    c.post(f"/api/v1/cases/{cid}/links", json={"object_ids": [node.report_id]}, headers=h("alice"))
    c.patch(f"/api/v1/cases/{cid}", json={"labels": ["port"]}, headers=h("alice"))
    c.post(f"/api/v1/cases/{cid}/participants", json={"add": ["Charlie"]}, headers=h("alice"))
    c.post(f"/api/v1/cases/{cid}/status", json={"status": "in_progress"}, headers=h("alice"))
    entries = c.get("/api/v1/audit", params={"limit": 1000}, headers=h("admin")).json()["entries"]
    joint = [(e["actor"], e["action"]) for e in entries if e["action"].split(".")[0] in ("case", "task")]
    assert joint == [
        ("alice@alpha.example", "case.create"),
        ("alice@alpha.example", "task.create"),
        ("bob@bravo.example", "task.edit"),
        ("bob@bravo.example", "task.log"),
        ("bob@bravo.example", "case.comment"),
        ("alice@alpha.example", "case.link"),
        ("alice@alpha.example", "case.edit"),
        ("alice@alpha.example", "case.participants"),
        ("alice@alpha.example", "case.status"),
    ]


def test_odd_input_gets_a_4xx_never_a_500(node: Node) -> None:
    c, h = node.client, node.h
    cid = _case(node)["id"]
    tid = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "t"}, headers=h("alice")).json()["id"]
    attempts = [
        ("post", "/api/v1/cases", {"title": "x", "labels": [""]}),
        ("post", "/api/v1/cases", {"title": "x", "object_ids": "not a list"}),
        ("post", "/api/v1/cases", {"title": "x\u0000y"}),
        ("patch", f"/api/v1/cases/{cid}", {"base_version": "yesterday", "title": "y"}),
        ("patch", f"/api/v1/cases/{cid}", {"assignees": ["nobody@nowhere.example"]}),
        ("post", f"/api/v1/cases/{cid}/status", {"status": "archived"}),
        ("post", f"/api/v1/cases/{cid}/links", {"object_ids": ["x-accord-case--not-a-uuid"]}),
        ("patch", f"/api/v1/tasks/{tid}", {"due": "2026-02-30T00:00:00Z"}),
        ("patch", f"/api/v1/tasks/{tid}", {"status": "finished"}),
        ("patch", f"/api/v1/tasks/{tid}", {}),
        ("post", f"/api/v1/tasks/{tid}/logs", {"content": "x", "evidence": ["nope"]}),
        ("get", "/api/v1/cases?after=garbage", None),
        ("get", "/api/v1/tasks?mine=0", None),
        ("get", "/api/v1/cases?status=whatever", None),
    ]
    for method, path, body in attempts:
        r = getattr(c, method)(path, headers=h("alice"), **({"json": body} if body is not None else {}))
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), (path, r.text)
