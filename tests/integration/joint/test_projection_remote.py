"""Requests, requirements and task changes that arrive as STIX content (what a peer brings) fill the receiving
node's request list, requirement list and matching, and task state, through the policy: only the owner's versions
change them, newest wins whatever the arrival order, an outsider's planted note stays plain content, and a task
changed on two nodes at once shows one conflict."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.joint import objects
from accord.models.objects import stix_object
from accord.stix.markings import Tlp
from accord.stix.timestamps import timestamp_to_micros
from tests.integration.joint.conftest import Node
from tests.integration.joint.test_projection import T0, T1, T2, T3, _case, _post, _shared, _timeline

pytestmark = pytest.mark.usefixtures("db_url")


def _rfi(rid: str, alpha: str, bravo: str, modified: str, status: str = "open") -> dict[str, Any]:
    fields = {"name": "Seen this?", "question": "Any hits on 198.51.100.7?", "addressee_refs": [bravo],
              "values": ["198.51.100.7"], "status": status, "tlp": int(Tlp.AMBER)}  # fmt: skip
    return objects.rfi_object(stix_id=rid, owner_ref=alpha, created=T0, modified=modified, fields=fields)


def _org(name: str) -> Any:
    with get_engine().begin() as conn:
        return accounts.get_org_by_name(conn, name)


def test_a_received_request_is_listed_for_the_addressed_and_answered_only_by_them(node: Node) -> None:
    c, h = node.client, node.h
    coll_id, alpha_id, alpha, bravo = _shared()
    rid = objects.new_id(objects.RFI_TYPE)
    _post(coll_id, alpha_id, [_rfi(rid, alpha, bravo, T0)])
    listed = c.get("/api/v1/rfis", headers=h("bob")).json()["rfis"]
    assert [(x["id"], x["from"], x["status"]) for x in listed] == [(rid, "Alpha", "open")]
    assert c.get("/api/v1/rfis", headers=h("carol")).json()["rfis"] == []
    assert c.get(f"/api/v1/rfis/{rid}", headers=h("carol")).status_code == 404

    # Charlie plants a note on it (in a collection Bravo reads): plain content, no answer.
    charlie = _org("Charlie")
    with get_engine().begin() as conn:
        open_coll = accounts.create_collection(conn, "Open", "open", readers=["Alpha", "Bravo", "Charlie"],
                                               writers=["Charlie"])  # fmt: skip
    planted = objects.note_object(owner_ref=charlie.stix_id, at=T1, author="x", content="planted", refs=[rid],
                                  tlp=Tlp.GREEN)  # fmt: skip
    _post(open_coll.id, charlie.id, [planted])
    assert c.get(f"/api/v1/rfis/{rid}", headers=h("alice")).json()["answers"] == []

    # Bravo's answer arrives as STIX (as from its node): the request is answered, with a response time.
    answer = objects.note_object(owner_ref=bravo, at=T1, author="bob@bravo.example", content="yes", refs=[rid],
                                 tlp=Tlp.AMBER)  # fmt: skip
    _post(coll_id, _org("Bravo").id, [answer])
    got = c.get(f"/api/v1/rfis/{rid}", headers=h("alice")).json()
    assert got["status"] == "answered"
    assert [(a["org"], a["author"], a["content"]) for a in got["answers"]] == [("Bravo", "bob@bravo.example", "yes")]
    assert got["response_seconds"] == {"Bravo": 86_400}
    # Bravo's analysts answer the received request here too; Charlie may not.
    r = c.post(f"/api/v1/rfis/{rid}/answers", json={"content": "and more"}, headers=h("bob"))
    assert r.status_code == 201, r.text
    assert c.post(f"/api/v1/rfis/{rid}/answers", json={"content": "x"}, headers=h("carol")).status_code == 404

    # The asker closes it (a newer version); an older version arriving late changes nothing.
    _post(coll_id, alpha_id, [_rfi(rid, alpha, bravo, T3, "closed")])
    _post(coll_id, alpha_id, [_rfi(rid, alpha, bravo, T2)])
    assert c.get(f"/api/v1/rfis/{rid}", headers=h("bob")).json()["status"] == "closed"


def _pir(pid: str, alpha: str, bravo: str, modified: str, status: str = "active") -> dict[str, Any]:
    fields = {"name": "Harbour cranes", "participant_refs": [alpha, bravo], "status": status, "tlp": int(Tlp.AMBER),
              "keywords": ["harbour crane"]}  # fmt: skip
    return objects.pir_object(stix_id=pid, owner_ref=alpha, created=T0, modified=modified, fields=fields)


def _indicator(owner: str, name: str) -> dict[str, Any]:
    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created_by_ref": owner, "created": T1, "modified": T1, "name": name, "pattern_type": "stix",
        "pattern": "[domain-name:value = 'crane.example']", "valid_from": T1,
        "object_marking_refs": objects.marking_refs(Tlp.AMBER),
    }  # fmt: skip


def test_a_received_requirement_matches_new_content_for_its_participants(node: Node) -> None:
    c, h = node.client, node.h
    coll_id, alpha_id, alpha, bravo = _shared()
    pid = objects.new_id(objects.PIR_TYPE)
    _post(coll_id, alpha_id, [_pir(pid, alpha, bravo, T0)])
    listed = c.get("/api/v1/pirs", headers=h("bob")).json()["pirs"]
    assert [(x["id"], x["owner"], x["status"]) for x in listed] == [(pid, "Alpha", "active")]
    assert c.get(f"/api/v1/pirs/{pid}", headers=h("carol")).status_code == 404

    with get_engine().begin() as conn:
        bravo_coll = accounts.create_collection(conn, "Bravo intel", "bravo-intel", readers=["Bravo"],
                                                writers=["Bravo"])  # fmt: skip
    found = _indicator(bravo, "Harbour crane beacon")
    _post(bravo_coll.id, _org("Bravo").id, [found, _indicator(bravo, "Unrelated")])
    matches = c.get(f"/api/v1/pirs/{pid}/matches", headers=h("bob")).json()["matches"]
    assert [(m["object_id"], m["matched"]) for m in matches] == [(found["id"], "harbour crane")]
    assert c.get(f"/api/v1/pirs/{pid}", headers=h("alice")).json()["matches"] == 0  # Bravo's, AMBER: not Alpha's

    # Newest of the owner's versions wins; a late older one changes nothing.
    _post(coll_id, alpha_id, [_pir(pid, alpha, bravo, T2, "inactive")])
    _post(coll_id, alpha_id, [_pir(pid, alpha, bravo, T1)])
    assert c.get(f"/api/v1/pirs/{pid}", headers=h("bob")).json()["status"] == "inactive"
    _post(bravo_coll.id, _org("Bravo").id, [_indicator(bravo, "Harbour crane again")])
    assert len(c.get(f"/api/v1/pirs/{pid}/matches", headers=h("bob")).json()["matches"]) == 1


def _task_changes(alpha: str, bravo: str, cid: str, tid: str) -> list[dict[str, Any]]:
    """A task of Alpha's, then two changes made on its first state on two nodes: Alpha's new version and
    Bravo's task-log note (the newest)."""
    fields = {"name": "Collect headers", "description": "", "status": "todo", "assignee": None, "due": None}
    first = objects.task_object(stix_id=tid, owner_ref=alpha, created=T0, modified=T0, case_ref=cid, fields=fields,
                                tlp=Tlp.AMBER)  # fmt: skip
    edit = objects.task_object(stix_id=tid, owner_ref=alpha, created=T0, modified=T1, case_ref=cid,
                               fields=fields | {"status": "blocked"}, tlp=Tlp.AMBER, based_on=T0)  # fmt: skip
    note = objects.note_object(owner_ref=bravo, at=T2, author="bob@bravo.example", content="done here", refs=[tid],
                               tlp=Tlp.AMBER, update={"status": "done", "based_on": T0})  # fmt: skip
    return [first, edit, note]


def _task_state(c: TestClient, node: Node, tid: str) -> tuple[str, str]:
    got = c.get(f"/api/v1/tasks/{tid}", headers=node.h("bob")).json()
    return got["status"], got["updated"]


@pytest.mark.parametrize("order", list(itertools.permutations([1, 2])))
def test_concurrent_task_changes_converge_in_any_order_with_one_conflict(node: Node, order: tuple[int, int]) -> None:
    c = node.client
    coll_id, alpha_id, alpha, bravo = _shared()
    cid, tid = objects.new_id(objects.CASE_TYPE), objects.new_id(objects.TASK_TYPE)
    _post(coll_id, alpha_id, [_case(cid, alpha, bravo, T0, "Phishing")])
    changes = _task_changes(alpha, bravo, cid, tid)
    _post(coll_id, alpha_id, [changes[0]])
    for i in order:
        _post(coll_id, alpha_id if i == 1 else _org("Bravo").id, [changes[i]])
    assert _task_state(c, node, tid) == ("done", "2026-11-03T10:00:00.000000Z")
    conflicts = [e for e in _timeline(c, node, cid, "bob") if e["kind"] == "conflict"]
    assert len(conflicts) == 1, conflicts
    assert conflicts[0]["summary"].startswith("Collect headers: ")


def test_task_changes_made_one_after_the_other_show_no_conflict(node: Node) -> None:
    c = node.client
    coll_id, alpha_id, alpha, bravo = _shared()
    cid, tid = objects.new_id(objects.CASE_TYPE), objects.new_id(objects.TASK_TYPE)
    _post(coll_id, alpha_id, [_case(cid, alpha, bravo, T0, "Phishing")])
    first, edit, note = _task_changes(alpha, bravo, cid, tid)
    note["extensions"][objects.TASK_UPDATE_EXT]["based_on"] = T1  # made on Alpha's edit
    _post(coll_id, alpha_id, [first, edit])  # one batch, as a pull page brings them
    _post(coll_id, _org("Bravo").id, [note])
    assert _task_state(c, node, tid)[0] == "done"
    assert [e["kind"] for e in _timeline(c, node, cid, "bob")] == ["case.create", "task.create", "task.edit",
                                                                   "task.log"]  # fmt: skip


def test_local_task_changes_carry_their_base_so_that_other_nodes_see_the_same_history(node: Node) -> None:
    c, h = node.client, node.h
    case = c.post("/api/v1/cases", json={"title": "Local", "participants": ["Bravo"]}, headers=h("alice")).json()
    task = c.post(f"/api/v1/cases/{case['id']}/tasks", json={"title": "t"}, headers=h("alice")).json()
    edited = c.patch(f"/api/v1/tasks/{task['id']}", json={"status": "doing"}, headers=h("alice")).json()
    taken = c.patch(f"/api/v1/tasks/{task['id']}", json={"status": "done"}, headers=h("bob")).json()
    with get_engine().connect() as conn:
        rows = conn.execute(
            select(stix_object.c.raw)
            .where(stix_object.c.type.in_([objects.TASK_TYPE, "note"]))
            .order_by(stix_object.c.seq)
        ).scalars()
        created, edit, note = [orjson.loads(r) for r in rows]
    assert (created.get("based_on"), edit["based_on"]) == (None, created["modified"])
    assert note["extensions"][objects.TASK_UPDATE_EXT]["based_on"] == edit["modified"]
    # The state each change leaves is the time of its version: what a node receiving them shows too.
    assert timestamp_to_micros(edited["updated"]) == timestamp_to_micros(edit["modified"])
    assert timestamp_to_micros(taken["updated"]) == timestamp_to_micros(note["modified"])
    assert [e["kind"] for e in _timeline(c, node, case["id"], "alice")].count("conflict") == 0


def test_what_a_peer_sends_malformed_is_stored_but_never_breaks_the_projection_or_the_matcher(node: Node) -> None:
    c, h = node.client, node.h
    coll_id, alpha_id, alpha, bravo = _shared()
    bad_pir = {**_pir(objects.new_id(objects.PIR_TYPE), alpha, bravo, T0), "cidrs": ["not a network"]}
    long_due = {**_rfi(objects.new_id(objects.RFI_TYPE), alpha, bravo, T0), "due": "x" * 500}
    _post(coll_id, alpha_id, [bad_pir, long_due])
    assert c.get("/api/v1/pirs", headers=h("bob")).json()["pirs"] == []
    (listed,) = c.get("/api/v1/rfis", headers=h("bob")).json()["rfis"]
    assert (listed["id"], listed["due"]) == (long_due["id"], None)
    # Content keeps arriving and being matched (the bad requirement never reached the matcher).
    _post(coll_id, alpha_id, [_indicator(alpha, "Harbour crane")])
