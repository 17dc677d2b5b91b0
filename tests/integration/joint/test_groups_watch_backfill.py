"""Participants given as a sharing group (cases, requests, requirements) follow the group's membership at once;
new content sharing a value with a case's linked objects notifies its participants through the policy; a new
or changed requirement matches what is already stored (background job)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.models.joint import joint_pir_match
from accord.stix.markings import Tlp
from accord.worker.runner import run_pending
from tests.integration.joint.conftest import Node, make_indicator
from tests.integration.joint.test_pirs import _ingest, _matches, _obj, _org_ref, _pir, _pir_notes, _report

pytestmark = pytest.mark.usefixtures("db_url")


def _group(name: str, orgs: list[str]) -> None:
    with get_engine().begin() as conn:
        accounts.create_group(conn, name, orgs)


def _members(name: str, orgs: list[str], *, add: bool) -> None:
    with get_engine().begin() as conn:
        accounts.change_members(conn, name, orgs, add=add)


def _feed(node: Node, who: str, kind: str) -> list[dict]:
    r = node.client.get("/api/v1/notifications", headers=node.h(who))
    assert r.status_code == 200, r.text
    return [n for n in r.json()["notifications"] if n["kind"] == kind]


def test_a_case_shared_with_a_group_follows_its_membership_at_once(node: Node) -> None:
    c, h = node.client, node.h
    _group("Allies", ["Bravo"])
    r = c.post("/api/v1/cases", json={"title": "Port", "participants": ["Allies"]}, headers=h("alice"))
    assert r.status_code == 201, r.text
    case = r.json()
    cid = case["id"]
    assert case["groups"] == ["Allies"]
    assert case["participants"] == ["Alpha", "Bravo"]
    assert c.get(f"/api/v1/cases/{cid}", headers=h("bob")).status_code == 200
    r = c.post(f"/api/v1/cases/{cid}/tasks", json={"title": "Look", "assignee": "bob@bravo.example"}, headers=h("bob"))
    assert r.status_code == 201, r.text
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).status_code == 404
    assert cid not in [x["id"] for x in c.get("/api/v1/cases", headers=h("carol")).json()["cases"]]

    _members("Allies", ["Charlie"], add=True)  # Charlie joins the group: it takes part at once
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).json()["participants"] == ["Alpha", "Bravo", "Charlie"]
    r = c.post(f"/api/v1/cases/{cid}/comments", json={"content": "we see it too"}, headers=h("carol"))
    assert r.status_code == 201, r.text
    r = c.patch(f"/api/v1/cases/{cid}", json={"assignees": ["carol@charlie.example"]}, headers=h("alice"))
    assert r.status_code == 200, r.text

    _members("Allies", ["Bravo"], add=False)  # Bravo leaves the group: the case is gone for it
    assert c.get(f"/api/v1/cases/{cid}", headers=h("bob")).status_code == 404
    r = c.post(f"/api/v1/cases/{cid}/comments", json={"content": "still here?"}, headers=h("bob"))
    assert r.status_code == 404
    assert c.get(f"/api/v1/cases/{cid}", headers=h("alice")).json()["participants"] == ["Alpha", "Charlie"]

    # The owner removes the group: only the owner is left.
    r = c.post(f"/api/v1/cases/{cid}/participants", json={"remove": ["Allies"]}, headers=h("alice"))
    assert r.status_code == 200, r.text
    assert r.json()["groups"] == []
    assert c.get(f"/api/v1/cases/{cid}", headers=h("carol")).status_code == 404
    r = c.post(f"/api/v1/cases/{cid}/participants", json={"add": ["Allies"]}, headers=h("alice"))
    assert r.json()["participants"] == ["Alpha", "Charlie"]
    r = c.post(f"/api/v1/cases/{cid}/participants", json={"add": ["No such group"]}, headers=h("alice"))
    assert r.status_code == 404


def test_requests_and_requirements_addressed_to_a_group(node: Node) -> None:
    c, h = node.client, node.h
    _group("Allies", ["Bravo"])
    r = c.post("/api/v1/rfis", json={"title": "Seen it?", "to": ["Allies"]}, headers=h("alice"))
    assert r.status_code == 201, r.text
    rfi = r.json()
    assert (rfi["to"], rfi["groups"]) == (["Bravo"], ["Allies"])
    assert c.post(f"/api/v1/rfis/{rfi['id']}/answers", json={"content": "no"}, headers=h("carol")).status_code == 404
    _members("Allies", ["Charlie"], add=True)
    r = c.post(f"/api/v1/rfis/{rfi['id']}/answers", json={"content": "yes"}, headers=h("carol"))
    assert r.status_code == 201, r.text
    assert c.get(f"/api/v1/rfis/{rfi['id']}", headers=h("alice")).json()["to"] == ["Bravo", "Charlie"]

    pir = _pir(node, participants=["Allies"], keywords=["wiper"])
    assert pir["groups"] == ["Allies"]
    assert pir["participants"] == ["Alpha", "Bravo", "Charlie"]
    _members("Allies", ["Bravo"], add=False)
    assert c.get(f"/api/v1/pirs/{pir['id']}", headers=h("bob")).status_code == 404
    _ingest("Alpha", "alpha-green", ["Alpha", "Bravo", "Charlie"], [_report(_org_ref("Alpha"), "A new wiper")])
    assert len(_pir_notes(node, "carol")) == 1  # a member now: told
    assert _pir_notes(node, "bob") == []  # no longer a member: not told


def test_new_content_sharing_a_value_with_a_case_notifies_its_participants(node: Node) -> None:
    c, h = node.client, node.h
    body = {"title": "Port", "participants": ["Bravo"], "object_ids": [node.indicator_ids[0]]}
    cid = c.post("/api/v1/cases", json=body, headers=h("alice")).json()["id"]  # links 203.0.113.1

    # Charlie's new indicator of the same address, shared with Bravo and Charlie only.
    charlie = _org_ref("Charlie")
    _ingest("Charlie", "charlie-bravo", ["Bravo", "Charlie"], [make_indicator(charlie, "203.0.113.1", Tlp.GREEN)])
    bob = _feed(node, "bob", "case.correlation")
    assert [(n["subject"], "203.0.113.1" in n["summary"]) for n in bob] == [(cid, True)]
    assert _feed(node, "alice", "case.correlation") == []  # Alpha may not read Charlie's indicator
    assert _feed(node, "carol", "case.correlation") == []  # not a participant (and its own content)

    # Another value, and Charlie's content readable by everyone: Alpha is told too; unrelated values tell nobody.
    _ingest("Charlie", "charlie-all", ["Alpha", "Bravo", "Charlie"], [make_indicator(charlie, "203.0.113.1")])
    _ingest("Charlie", "charlie-all", ["Alpha", "Bravo", "Charlie"], [make_indicator(charlie, "198.51.100.9")])
    assert len(_feed(node, "alice", "case.correlation")) == 1
    assert len(_feed(node, "bob", "case.correlation")) == 2
    assert len(_feed(node, "anna", "case.correlation")) == 1  # every user of a participating organisation


def test_a_new_requirement_matches_what_is_already_stored(node: Node) -> None:
    alpha, bravo = _org_ref("Alpha"), _org_ref("Bravo")
    _ingest("Bravo", "bravo-all", ["Alpha", "Bravo", "Charlie"], [_report(bravo, "Sofacy strikes again")])
    _ingest("Charlie", "charlie-own", ["Charlie"], [_report(_org_ref("Charlie"), "Sofacy seen by us only")])
    _ingest("Alpha", "alpha-intel", ["Alpha"], [_obj("intrusion-set", alpha, name="APT28", aliases=["Sofacy"])])
    pir = _pir(node, names=["APT28"])
    assert _matches(node, pir["id"], "alice") == []  # the background job has not run yet
    run_pending(get_engine())
    assert sorted(m["name"] for m in _matches(node, pir["id"], "alice")) == ["APT28", "Sofacy strikes again"]
    assert [m["name"] for m in _matches(node, pir["id"], "bob")] == ["Sofacy strikes again"]  # through the policy
    assert [n["subject"] for n in _pir_notes(node, "bob")] == [pir["id"]]
    assert len(_pir_notes(node, "alice")) == 2
    # Charlie's own report, readable by no participant, is not matched; Charlie sees nothing.
    assert _stored_matches() == 2
    assert node.client.get(f"/api/v1/pirs/{pir['id']}", headers=node.h("carol")).status_code == 404
    assert _pir_notes(node, "carol") == []

    # A change of criteria matches the store again, without recording a match twice.
    changed = {"criteria": {"names": ["APT28"], "keywords": ["strikes"]}}
    r = node.client.patch(f"/api/v1/pirs/{pir['id']}", json=changed, headers=node.h("alice"))
    assert r.status_code == 200, r.text
    run_pending(get_engine())
    assert _stored_matches() == 2
    assert len(_pir_notes(node, "alice")) == 2


def _stored_matches() -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(select(func.count()).select_from(joint_pir_match)).scalar_one())
