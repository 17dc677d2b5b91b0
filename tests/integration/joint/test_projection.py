"""Joint work that arrives as STIX content (a TAXII POST, a peer, a feed, an import: all the store's ingest) fills
the receiving node's case list, task queue and timeline in the same transaction, through the policy; concurrent
edits converge whatever order their versions arrive in, and an edit made on an older version shows as a conflict."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.joint import objects
from accord.models.joint import joint_case, joint_event, joint_task
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.integration.joint.conftest import Node

pytestmark = pytest.mark.usefixtures("db_url")

T0, T1, T2, T3 = (f"2026-11-0{d}T10:00:00.000Z" for d in (1, 2, 3, 4))


def _shared(alias: str = "joint-in") -> tuple[int, int, str, str]:
    """A collection Alpha and Bravo read and write; (its id, Alpha's org id, Alpha's identity, Bravo's identity)."""
    with get_engine().begin() as conn:
        coll = accounts.create_collection(
            conn, "Joint in", alias, readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"]
        )
        alpha, bravo = accounts.get_org_by_name(conn, "Alpha"), accounts.get_org_by_name(conn, "Bravo")
    return coll.id, alpha.id, alpha.stix_id, bravo.stix_id


def _case(cid: str, owner: str, bravo: str, modified: str, name: str, based_on: str | None = None, **extra: Any):
    fields = {
        "name": name,
        "description": "",
        "severity": "high",
        "priority": "medium",
        "status": "open",
        "status_reason": "",
        "participant_refs": [owner, bravo],
        "assignees": [],
        "labels": [],
        "object_refs": [],
        "tlp": int(Tlp.AMBER),
    } | extra
    return objects.case_object(
        stix_id=cid, owner_ref=owner, created=T0, modified=modified, fields=fields, based_on=based_on
    )


def _post(coll_id: int, org_id: int, objs: list[dict[str, Any]]) -> None:
    """Store as a TAXII POST does (the store's ingest, which runs the after-write hooks)."""
    with get_engine().begin() as conn:
        report = ingest(conn, objs, WriteContext(writer_org_id=org_id, collection_id=coll_id))
        assert report.stored == len(objs), report.reasons


def _timeline(c: TestClient, node: Node, cid: str, who: str) -> list[dict[str, Any]]:
    r = c.get(f"/api/v1/cases/{cid}/timeline", headers=node.h(who))
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def test_a_case_posted_as_stix_is_worked_like_a_local_one_and_a_third_sees_nothing(node: Node) -> None:
    c, h = node.client, node.h
    coll_id, alpha_id, alpha, bravo = _shared()
    cid = objects.new_id(objects.CASE_TYPE)
    case = _case(cid, alpha, bravo, T0, "Received case", object_refs=node.indicator_ids)
    _post(coll_id, alpha_id, [case])

    listed = c.get("/api/v1/cases", headers=h("bob")).json()["cases"]
    assert [x["id"] for x in listed] == [cid]
    view = c.get(f"/api/v1/cases/{cid}", headers=h("bob")).json()
    assert (view["title"], view["owner"], view["participants"]) == ("Received case", "Alpha", ["Alpha", "Bravo"])
    assert view["links"] == 2
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).status_code == 404
    assert c.get("/api/v1/cases", headers=h("carol")).json()["cases"] == []

    # Bravo works the received case through the REST API, as on the node that opened it.
    task = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "Check the proxy"}, headers=h("bob"))
    assert task.status_code == 201, task.text
    assert c.post(f"/api/v1/cases/{cid}/comments", json={"content": "on it"}, headers=h("bob")).status_code == 201

    # A task of Alpha's, a log entry of Bravo's that takes it, a comment and a link grouping arrive as STIX.
    tid = objects.new_id(objects.TASK_TYPE)
    fields = {"name": "Block at the edge", "description": "", "status": "todo", "assignee": None, "due": None}
    alpha_task = objects.task_object(
        stix_id=tid, owner_ref=alpha, created=T1, modified=T1, case_ref=cid, fields=fields, tlp=Tlp.AMBER
    )
    comment = objects.note_object(
        owner_ref=alpha, at=T1, author="alice@alpha.example", content="hello", refs=[cid], tlp=Tlp.AMBER
    )
    grouping = objects.link_grouping(owner_ref=alpha, at=T1, case_ref=cid, refs=[node.report_id], tlp=Tlp.AMBER)
    _post(coll_id, alpha_id, [grouping, comment, alpha_task])  # in any order: cases, tasks, then the rest
    with get_engine().begin() as conn:
        bravo_id = accounts.get_org_by_name(conn, "Bravo").id
    take = objects.note_object(
        owner_ref=bravo, at=T2, author="bob@bravo.example", content="mine", refs=[tid], tlp=Tlp.AMBER,
        update={"status": "doing", "assignee": "bob@bravo.example"},
    )  # fmt: skip
    _post(coll_id, bravo_id, [take])

    tasks = c.get(f"/api/v1/cases/{cid}/tasks", headers=h("bob")).json()["tasks"]
    assert [(t["title"], t["status"], t["assignee"]) for t in tasks] == [
        ("Check the proxy", "todo", None),
        ("Block at the edge", "doing", "bob@bravo.example"),
    ]
    assert [t["id"] for t in c.get("/api/v1/tasks?mine=1", headers=h("bob")).json()["tasks"]] == [tid]
    got = c.get(f"/api/v1/tasks/{tid}", headers=h("alice")).json()
    assert [(e["author"], e["content"], e.get("status")) for e in got["log"]] == [
        ("bob@bravo.example", "mine", "doing")
    ]
    kinds = [(e["kind"], e["actor"]) for e in _timeline(c, node, cid, "alice")]
    assert kinds == [
        ("case.create", "Alpha"),
        ("task.create", "bob@bravo.example"),
        ("comment", "bob@bravo.example"),
        ("task.create", "Alpha"),
        ("case.link", "Alpha"),
        ("comment", "alice@alpha.example"),
        ("task.log", "bob@bravo.example"),
    ]
    assert c.get(f"/api/v1/cases/{cid}", headers=h("bob")).json()["links"] == 3
    assert c.get(f"/api/v1/cases/{cid}/timeline", headers=h("carol")).status_code == 404
    assert c.get(f"/api/v1/tasks/{tid}", headers=h("carol")).status_code == 404


def _versions(alpha: str, bravo: str, cid: str) -> list[dict[str, Any]]:
    """A case, then two edits made concurrently on its first version (the second is the newest)."""
    return [
        _case(cid, alpha, bravo, T0, "First"),
        _case(cid, alpha, bravo, T1, "Edit on one node", based_on=T0),
        _case(cid, alpha, bravo, T2, "Edit on the other node", based_on=T0),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations([1, 2])))
def test_concurrent_edits_converge_in_any_order_and_show_as_a_conflict(node: Node, order: tuple[int, int]) -> None:
    c = node.client
    coll_id, alpha_id, alpha, bravo = _shared()
    cid = objects.new_id(objects.CASE_TYPE)
    versions = _versions(alpha, bravo, cid)
    for i in (0, *order):
        _post(coll_id, alpha_id, [versions[i]])
    view = c.get(f"/api/v1/cases/{cid}", headers=node.h("bob")).json()
    assert (view["title"], view["version"]) == ("Edit on the other node", "2026-11-03T10:00:00.000000Z")
    events = _timeline(c, node, cid, "bob")
    assert [e["kind"] for e in events].count("conflict") == 1
    (conflict,) = [e for e in events if e["kind"] == "conflict"]
    assert "2026-11-01T10:00:00" in conflict["summary"] or "arrived after" in conflict["summary"]
    # Nothing lost: every version stays in the history.
    history = c.get(f"/api/v1/objects/{cid}/versions", headers=node.h("bob"))
    assert history.status_code == 200, history.text
    assert len(history.json()["versions"]) == 3


def test_a_local_stale_edit_carries_its_base_so_that_other_nodes_see_the_same_conflict(node: Node) -> None:
    c, h = node.client, node.h
    case = c.post("/api/v1/cases", json={"title": "Local", "participants": ["Bravo"]}, headers=h("alice")).json()
    first = case["version"]
    c.patch(f"/api/v1/cases/{case['id']}", json={"title": "A"}, headers=h("alice"))
    stale = c.patch(f"/api/v1/cases/{case['id']}", json={"title": "B", "base_version": first}, headers=h("alice"))
    assert stale.status_code == 200
    with get_engine().connect() as conn:
        from accord.models.objects import stix_object

        raws = conn.execute(
            select(stix_object.c.raw).where(stix_object.c.id == case["id"]).order_by(stix_object.c.seq)
        ).scalars()
        bodies = [orjson.loads(r) for r in raws]
    assert [b.get("based_on") for b in bodies] == [None, first, first]
    # Replaying these versions on another case id (as another node receives them) shows the same conflict.
    coll_id, alpha_id, _, _ = _shared("replay")
    other = objects.new_id(objects.CASE_TYPE)
    for b in bodies:
        _post(coll_id, alpha_id, [{**b, "id": other}])
    kinds = [e["kind"] for e in _timeline(c, node, other, "bob")]
    assert kinds == ["case.create", "case.edit", "conflict", "case.edit"]
    assert [e["kind"] for e in _timeline(c, node, case["id"], "bob")] == kinds


def test_local_writes_are_not_projected_twice(node: Node) -> None:
    c, h = node.client, node.h
    case = c.post("/api/v1/cases", json={"title": "Once", "participants": ["Bravo"]}, headers=h("alice")).json()
    task = c.post(f"/api/v1/cases/{case['id']}/tasks", json={"title": "t"}, headers=h("bob")).json()
    c.post(f"/api/v1/tasks/{task['id']}/logs", json={"content": "x"}, headers=h("alice"))
    c.post(f"/api/v1/cases/{case['id']}/comments", json={"content": "y"}, headers=h("bob"))
    with get_engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(joint_case)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(joint_task)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(joint_event)).scalar_one() == 4


def test_unknown_or_foreign_joint_objects_are_stored_but_not_projected(node: Node) -> None:
    coll_id, alpha_id, alpha, _ = _shared()
    orphan = objects.task_object(
        stix_id=objects.new_id(objects.TASK_TYPE), owner_ref=alpha, created=T0, modified=T0,
        case_ref=f"x-accord-case--{uuid.uuid4()}",
        fields={"name": "n", "description": "", "status": "todo", "assignee": None, "due": None}, tlp=Tlp.AMBER,
    )  # fmt: skip
    stray = objects.note_object(owner_ref=alpha, at=T0, author="a", content="c", refs=[node.report_id], tlp=Tlp.AMBER)
    _post(coll_id, alpha_id, [orphan, stray])
    with get_engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(joint_task)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(joint_event)).scalar_one() == 0


def test_an_organisation_outside_a_case_cannot_slip_work_into_it(node: Node) -> None:
    c = node.client
    coll_id, alpha_id, alpha, bravo = _shared()
    cid = objects.new_id(objects.CASE_TYPE)
    _post(coll_id, alpha_id, [_case(cid, alpha, bravo, T0, "Alpha and Bravo only")])
    with get_engine().begin() as conn:
        charlie = accounts.get_org_by_name(conn, "Charlie")
        open_coll = accounts.create_collection(conn, "Open", "open", readers=["Alpha", "Bravo", "Charlie"],
                                               writers=["Charlie"])  # fmt: skip
    green = Tlp.GREEN
    fields = {"name": "planted", "description": "", "status": "todo", "assignee": None, "due": None}
    planted = [
        objects.task_object(stix_id=objects.new_id(objects.TASK_TYPE), owner_ref=charlie.stix_id, created=T1,
                            modified=T1, case_ref=cid, fields=fields, tlp=green),
        objects.note_object(owner_ref=charlie.stix_id, at=T1, author="x", content="planted", refs=[cid], tlp=green),
        objects.link_grouping(owner_ref=charlie.stix_id, at=T1, case_ref=cid, refs=[node.report_id], tlp=green),
    ]  # fmt: skip
    _post(open_coll.id, charlie.id, planted)
    assert [e["kind"] for e in _timeline(c, node, cid, "bob")] == ["case.create"]
    assert c.get(f"/api/v1/cases/{cid}/tasks", headers=node.h("bob")).json()["tasks"] == []
    assert c.get(f"/api/v1/cases/{cid}", headers=node.h("bob")).json()["links"] == 0
