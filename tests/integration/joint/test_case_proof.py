"""The issue's first proof: two organisations on one node run a case end to end through the REST API, and a
third organisation sees none of it."""

from __future__ import annotations

import pytest

from tests.integration.joint.conftest import Node

pytestmark = pytest.mark.usefixtures("db_url")


def _open_case(node: Node, **extra) -> dict:
    body = {"title": "Port intrusion", "from_report": node.report_id, "participants": ["Bravo"], **extra}
    r = node.client.post("/api/v1/cases", json=body, headers=node.h("alice"))
    assert r.status_code == 201, r.text
    return r.json()


def test_two_organisations_work_a_case_end_to_end_and_a_third_sees_nothing(node: Node) -> None:
    c, h = node.client, node.h
    case = _open_case(node)
    cid = case["id"]
    assert case["owner"] == "Alpha"
    assert case["participants"] == ["Alpha", "Bravo"]
    assert case["status"] == "open"
    assert case["tlp"] == "TLP:AMBER"
    assert case["links"] == 3  # the report and its two indicators

    # Bravo's analyst reads the case and the objects linked from Alpha's report (shared through the case).
    seen = c.get(f"/api/v1/cases/{cid}", headers=h("bob"))
    assert seen.status_code == 200
    assert seen.json()["links"] == 3
    linked = c.get(f"/api/v1/cases/{cid}/links", headers=h("bob")).json()["objects"]
    assert {o["id"] for o in linked} == {node.report_id, *node.indicator_ids}

    # Alpha adds a task; Bravo's analyst takes it, logs work, links an indicator of its own and comments.
    task = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "Block at the edge"}, headers=h("alice")).json()
    took = c.patch(
        f"/api/v1/tasks/{task['id']}", json={"assignee": "bob@bravo.example", "status": "doing"}, headers=h("bob")
    )
    assert took.status_code == 200, took.text
    assert took.json()["assignee"] == "bob@bravo.example"
    assert took.json()["status"] == "doing"
    mine = c.get("/api/v1/tasks?mine=1", headers=h("bob")).json()["tasks"]
    assert [t["id"] for t in mine] == [task["id"]]
    assert mine[0]["case"] == cid
    own_indicator = c.post(
        "/api/v1/cases/" + cid + "/links", json={"object_ids": [node.indicator_ids[0]]}, headers=h("bob")
    ).json()
    assert own_indicator == {"linked": 0, "already_linked": 1}
    log = c.post(
        f"/api/v1/tasks/{task['id']}/logs", json={"content": "blocked on fw-1", "evidence": []}, headers=h("bob")
    )
    assert log.status_code == 201, log.text
    bravo_obj = "indicator--6a1f0c0e-3a55-4c8f-9d2b-2a7c1f3e9b10"
    assert c.post(f"/api/v1/cases/{cid}/links", json={"object_ids": [bravo_obj]}, headers=h("bob")).json() == {
        "linked": 1,
        "already_linked": 0,
    }
    assert (
        c.post(f"/api/v1/cases/{cid}/comments", json={"content": "Seen here too"}, headers=h("bob")).status_code == 201
    )
    done = c.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done", "note": "rule deployed"}, headers=h("bob"))
    assert done.json()["status"] == "done"
    log_entries = done.json()["log"]
    assert [e["content"] for e in log_entries] == [
        "status doing, assignee bob@bravo.example",
        "blocked on fw-1",
        "rule deployed",
    ]
    assert log_entries[0]["author"] == "bob@bravo.example"
    assert log_entries[2]["status"] == "done"

    # Only the owner changes status; the owner resolves and closes with reasons.
    assert (
        c.post(f"/api/v1/cases/{cid}/status", json={"status": "resolved", "reason": "x"}, headers=h("bob")).status_code
        == 403
    )
    assert c.post(f"/api/v1/cases/{cid}/status", json={"status": "resolved"}, headers=h("alice")).status_code == 400
    for status, reason in (("in_progress", ""), ("resolved", "blocked everywhere"), ("closed", "no new activity")):
        r = c.post(f"/api/v1/cases/{cid}/status", json={"status": status, "reason": reason}, headers=h("alice"))
        assert r.status_code == 200, r.text
    assert c.get(f"/api/v1/cases/{cid}", headers=h("bob")).json()["status"] == "closed"
    kinds = [e["kind"] for e in c.get(f"/api/v1/cases/{cid}/timeline", headers=h("bob")).json()["events"]]
    assert kinds == [
        "case.create",
        "task.create",
        "task.log",
        "task.log",
        "case.link",
        "comment",
        "task.log",
        "case.status",
        "case.status",
        "case.status",
    ]

    # Charlie: 404 for every read and write, absent from lists, counts and search.
    for path in (
        f"/api/v1/cases/{cid}",
        f"/api/v1/cases/{cid}/timeline",
        f"/api/v1/cases/{cid}/tasks",
        f"/api/v1/cases/{cid}/links",
        f"/api/v1/tasks/{task['id']}",
        f"/api/v1/objects/{cid}",
        f"/api/v1/objects/{task['id']}",
    ):
        assert c.get(path, headers=h("carol")).status_code == 404, path
    assert c.get("/api/v1/cases", headers=h("carol")).json() == {"cases": []}
    assert c.get("/api/v1/tasks?mine=1", headers=h("carol")).json() == {"tasks": []}
    objects = c.get(
        "/api/v1/objects?type=x-accord-case&type=x-accord-task&type=note&type=grouping", headers=h("carol")
    ).json()["objects"]
    assert objects == []
    assert [x["id"] for x in c.get("/api/v1/cases", headers=h("bob")).json()["cases"]] == [cid]
    # Lookups (correlation): the linked indicator reached Bravo through the case, never Charlie.
    bravo_lookup = c.post("/api/v1/lookup", json={"values": ["203.0.113.1"]}, headers=h("bob")).text
    carol_lookup = c.post("/api/v1/lookup", json={"values": ["203.0.113.1"]}, headers=h("carol")).text
    assert node.indicator_ids[0] in bravo_lookup
    assert node.indicator_ids[0] not in carol_lookup
    assert cid not in carol_lookup


def test_writes_on_a_case_charlie_cannot_read_answer_as_for_a_missing_one(node: Node) -> None:
    c, h = node.client, node.h
    cid = _open_case(node)["id"]
    task = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "t"}, headers=h("alice")).json()
    missing_case = "x-accord-case--0e4b1c1e-9f7a-4d43-8a57-0f3b7e5b2c11"
    missing_task = "x-accord-task--0e4b1c1e-9f7a-4d43-8a57-0f3b7e5b2c11"
    writes = [
        ("post", "/api/v1/cases/{c}/tasks", {"title": "x"}),
        ("post", "/api/v1/cases/{c}/comments", {"content": "x"}),
        ("post", "/api/v1/cases/{c}/links", {"object_ids": [missing_case]}),
        ("post", "/api/v1/cases/{c}/status", {"status": "in_progress"}),
        ("post", "/api/v1/cases/{c}/participants", {"add": ["Charlie"]}),
        ("patch", "/api/v1/cases/{c}", {"title": "x"}),
        ("patch", "/api/v1/tasks/{t}", {"status": "done"}),
        ("post", "/api/v1/tasks/{t}/logs", {"content": "x"}),
    ]
    for method, path, body in writes:
        real = getattr(c, method)(path.format(c=cid, t=task["id"]), json=body, headers=h("carol"))
        absent = getattr(c, method)(path.format(c=missing_case, t=missing_task), json=body, headers=h("carol"))
        assert real.status_code == absent.status_code == 404, path
        assert real.json()["detail"].replace(cid, "ID").replace(task["id"], "ID") == absent.json()["detail"].replace(
            missing_case, "ID"
        ).replace(missing_task, "ID")
    # and nothing was written
    assert [e["kind"] for e in c.get(f"/api/v1/cases/{cid}/timeline", headers=h("alice")).json()["events"]] == [
        "case.create",
        "task.create",
    ]
