"""Joint intelligence requirements: criteria, matching new intelligence right after ingest, the matches and
notifications read through the policy, writes (owner only, W3), audit, odd input, valid STIX."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from stix2validator import validate_instance

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store.service import WriteContext, ingest
from tests.integration.joint.conftest import TS, Node

pytestmark = pytest.mark.usefixtures("db_url")


def _obj(kind: str, owner: str, tlp: Tlp = Tlp.GREEN, **props: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created_by_ref": owner,
        "created": TS,
        "modified": TS,
        "object_marking_refs": [tlp_marking_definition(tlp)["id"]],
        **props,
    }


def _report(owner: str, name: str, tlp: Tlp = Tlp.GREEN, description: str = "") -> dict[str, Any]:
    extra = {"description": description} if description else {}
    return _obj("report", owner, tlp, name=name, published=TS, object_refs=[f"note--{uuid.uuid4()}"], **extra)


def _ingest(org_name: str, alias: str, readers: list[str], objs: list[dict[str, Any]]) -> None:
    """Store objects as an organisation into a collection (made on first use) read by `readers`."""
    with get_engine().begin() as conn:
        writer = accounts.get_org_by_name_or_raise(conn, org_name)
        known = {c.alias: c for c in accounts.list_collections(conn)}
        coll = known.get(alias)
        if coll is None:
            coll = accounts.create_collection(conn, alias, alias, readers=readers, writers=[org_name])
        report = ingest(conn, objs, WriteContext(writer_org_id=writer.id, collection_id=coll.id))
        assert report.stored == len(objs), report.reasons


def _org_ref(name: str) -> str:
    with get_engine().begin() as conn:
        return str(accounts.get_org_by_name_or_raise(conn, name).stix_id)


def _pir(node: Node, who: str = "alice", participants: list[str] | None = None, **criteria: list[str]) -> dict:
    body = {"title": "What does APT28 do", "participants": ["Bravo"] if participants is None else participants}
    r = node.client.post("/api/v1/pirs", json=body | {"criteria": criteria}, headers=node.h(who))
    assert r.status_code == 201, r.text
    return r.json()


def _matches(node: Node, pir_id: str, who: str) -> list[dict]:
    r = node.client.get(f"/api/v1/pirs/{pir_id}/matches", headers=node.h(who))
    assert r.status_code == 200, r.text
    return r.json()["matches"]


def _pir_notes(node: Node, who: str) -> list[dict]:
    feed = node.client.get("/api/v1/notifications", headers=node.h(who)).json()["notifications"]
    return [n for n in feed if n["kind"] == "pir.match"]


def test_an_alias_of_the_intrusion_set_flags_a_partners_new_report_right_after_ingest(node: Node) -> None:
    alpha, bravo = _org_ref("Alpha"), _org_ref("Bravo")
    apt = _obj("intrusion-set", alpha, name="APT28", aliases=["Fancy Bear", "Sofacy"])
    _ingest("Alpha", "alpha-intel", ["Alpha"], [apt])
    pir = _pir(node, names=["apt28"])
    assert pir["aliases"] == ["Fancy Bear", "Sofacy"]
    assert pir["participants"] == ["Alpha", "Bravo"]
    assert pir["status"] == "active"
    assert _matches(node, pir["id"], "alice") == []

    shared = _report(bravo, "New lures", description="A SOFACY campaign against ports")
    secret = _report(bravo, "Fancy Bear internals", tlp=Tlp.RED)  # Bravo's own: Alpha may not read it
    unrelated = _report(bravo, "Ransomware wave")
    _ingest("Bravo", "bravo-share", ["Alpha", "Bravo"], [shared, unrelated])
    _ingest("Bravo", "bravo-own", ["Bravo"], [secret])

    # Right after ingest returned: the match is recorded and announced.
    seen_by_alice = _matches(node, pir["id"], "alice")
    assert [(m["object_id"], m["matched"]) for m in seen_by_alice] == [(shared["id"], "Sofacy")]
    assert seen_by_alice[0]["name"] == "New lures"
    assert seen_by_alice[0]["type"] == "report"
    seen_by_bob = {m["object_id"]: m["matched"] for m in _matches(node, pir["id"], "bob")}
    assert seen_by_bob == {shared["id"]: "Sofacy", secret["id"]: "Fancy Bear"}
    assert node.client.get(f"/api/v1/pirs/{pir['id']}", headers=node.h("alice")).json()["matches"] == 1
    assert node.client.get(f"/api/v1/pirs/{pir['id']}", headers=node.h("bob")).json()["matches"] == 2
    assert [n["subject"] for n in _pir_notes(node, "alice")] == [pir["id"]]
    assert len(_pir_notes(node, "bob")) == 2
    assert len(_pir_notes(node, "anna")) == 1

    # A third organisation sees nothing: not the requirement, not its matches, no notification.
    for path in (f"/api/v1/pirs/{pir['id']}", f"/api/v1/pirs/{pir['id']}/matches"):
        r = node.client.get(path, headers=node.h("carol"))
        assert r.status_code == 404
        missing = node.client.get(path.replace(pir["id"], f"x-accord-pir--{uuid.uuid4()}"), headers=node.h("carol"))
        assert r.json()["detail"].split()[:2] == missing.json()["detail"].split()[:2]
    assert node.client.get("/api/v1/pirs", headers=node.h("carol")).json()["pirs"] == []
    assert _pir_notes(node, "carol") == []


def test_each_kind_of_criterion_matches_and_near_misses_do_not(node: Node) -> None:
    alpha = _org_ref("Alpha")
    pir = _pir(
        node,
        participants=[],
        techniques=["T1566"],
        sectors=["financial-services"],
        countries=["de"],
        keywords=["port logistics"],
        domains=["*.evil.example"],
        cidrs=["198.51.100.0/24"],
    )
    assert pir["criteria"]["countries"] == ["DE"]
    assert pir["criteria"]["domains"] == ["evil.example"]
    hits = {
        "T1566": _obj(
            "attack-pattern",
            alpha,
            name="Spearphishing sub",
            external_references=[{"source_name": "mitre-attack", "external_id": "T1566.001"}],
        ),
        "financial-services": _obj(
            "identity", alpha, name="Bank", identity_class="organization", sectors=["financial-services"]
        ),
        "DE": _obj("location", alpha, name="Germany", country="DE"),
        "port logistics": _report(alpha, "Notes", description="Attacks on\nport   logistics firms"),
        "evil.example": _obj(
            "indicator", alpha, pattern="[domain-name:value = 'cdn.evil.example']", pattern_type="stix", valid_from=TS
        ),
        "198.51.100.0/24": _obj(
            "indicator", alpha, pattern="[ipv4-addr:value = '198.51.100.77']", pattern_type="stix", valid_from=TS
        ),
    }
    misses = [
        _obj("indicator", alpha, pattern="[domain-name:value = 'notevil.example']", pattern_type="stix", valid_from=TS),
        _obj("indicator", alpha, pattern="[ipv4-addr:value = '198.51.101.77']", pattern_type="stix", valid_from=TS),
        _obj("location", alpha, name="Denmark", country="DK", description="de facto"),
        _report(alpha, "Port report", description="logistics of the port"),
        _obj("attack-pattern", alpha, name="T15660 is no technique"),
    ]
    _ingest("Alpha", "alpha-intel", ["Alpha"], [*hits.values(), *misses])
    found = {m["object_id"]: m["matched"] for m in _matches(node, pir["id"], "alice")}
    assert found == {o["id"]: label for label, o in hits.items()}


def test_an_inactive_requirement_matches_nothing_and_an_edit_recompiles(node: Node) -> None:
    alpha = _org_ref("Alpha")
    pir = _pir(node, keywords=["lighthouse"])
    r = node.client.patch(f"/api/v1/pirs/{pir['id']}", json={"status": "inactive"}, headers=node.h("alice"))
    assert r.status_code == 200
    assert r.json()["status"] == "inactive"
    _ingest("Alpha", "alpha-intel", ["Alpha"], [_report(alpha, "The lighthouse")])
    assert _matches(node, pir["id"], "alice") == []
    body = {"status": "active", "criteria": {"keywords": ["harbour"]}}
    r = node.client.patch(f"/api/v1/pirs/{pir['id']}", json=body, headers=node.h("alice"))
    assert r.status_code == 200
    assert r.json()["criteria"]["keywords"] == ["harbour"]
    second = _report(alpha, "The harbour and the lighthouse")
    _ingest("Alpha", "alpha-intel", ["Alpha"], [second, _report(alpha, "Another lighthouse")])
    assert [m["object_id"] for m in _matches(node, pir["id"], "alice")] == [second["id"]]
    listed = node.client.get("/api/v1/pirs", params={"status": "active"}, headers=node.h("bob")).json()["pirs"]
    assert [p["id"] for p in listed] == [pir["id"]]


def test_only_the_owner_edits_and_an_unreadable_requirement_answers_as_a_missing_one(node: Node) -> None:
    pir = _pir(node, keywords=["x"])
    edit = {"title": "changed"}
    assert node.client.patch(f"/api/v1/pirs/{pir['id']}", json=edit, headers=node.h("bob")).status_code == 403
    assert node.client.patch(f"/api/v1/pirs/{pir['id']}", json=edit, headers=node.h("rita")).status_code == 403
    hidden = node.client.patch(f"/api/v1/pirs/{pir['id']}", json=edit, headers=node.h("carol"))
    missing = node.client.patch(f"/api/v1/pirs/x-accord-pir--{uuid.uuid4()}", json=edit, headers=node.h("carol"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].split()[:2] == missing.json()["detail"].split()[:2]
    assert node.client.get(f"/api/v1/pirs/{pir['id']}", headers=node.h("bob")).json()["title"] == pir["title"]


def test_pir_writes_are_audited_and_pir_objects_are_valid_stix(node: Node) -> None:
    c, h = node.client, node.h
    pir = _pir(node, names=["Sofacy"], techniques=["T1566.001"], cidrs=["2001:db8::/32"])
    c.patch(f"/api/v1/pirs/{pir['id']}", json={"description": "more"}, headers=h("alice"))
    entries = c.get("/api/v1/audit", params={"limit": 1000}, headers=h("admin")).json()["entries"]
    assert [(e["actor"], e["action"], e["target"]) for e in entries if e["action"].startswith("pir.")] == [
        ("alice@alpha.example", "pir.create", pir["id"]),
        ("alice@alpha.example", "pir.update", pir["id"]),
    ]
    objs = c.get("/api/v1/objects?type=x-accord-pir", headers=h("bob")).json()["objects"]
    assert [o["id"] for o in objs] == [pir["id"]]
    assert objs[0]["description"] == "more"
    shipped = c.get("/api/v1/joint/extensions", headers=h("bob")).json()["objects"]
    owner = c.get(f"/api/v1/objects/{objs[0]['created_by_ref']}", headers=h("bob")).json()
    unique = {o["id"]: o for o in [*shipped, owner, tlp_marking_definition(Tlp.AMBER), *objs]}
    result = validate_instance({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(unique.values())})
    assert result.is_valid, [str(e) for e in result.errors]
    assert [str(w) for w in result.warnings] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"title": "t", "criteria": {}}, "at least one criterion"),
        ({"title": "t", "criteria": {"techniques": ["1566"]}}, "ATT&CK"),
        ({"title": "t", "criteria": {"cidrs": ["300.1.1.0/24"]}}, "IP network"),
        ({"title": "t", "criteria": {"domains": ["not a domain"]}}, "domain suffix"),
        ({"title": "t", "criteria": {"countries": ["Germany"]}}, "alpha-2"),
        ({"title": "t", "tlp": "red", "criteria": {"keywords": ["x"]}}, "TLP"),
        ({"title": "t", "participants": ["Nobody"], "criteria": {"keywords": ["x"]}}, "Nobody"),
        ({"title": " ", "criteria": {"keywords": ["x"]}}, "title"),
        ({"title": "t", "criteria": {"keywords": ["x" * 201]}}, "longer than"),
    ],
)
def test_odd_input_is_a_precise_4xx(node: Node, body: dict, words: str) -> None:
    r = node.client.post("/api/v1/pirs", json=body, headers=node.h("alice"))
    assert 400 <= r.status_code < 500, r.text
    assert words in r.text
    assert node.client.get("/api/v1/pirs", headers=node.h("alice")).json()["pirs"] == []


def test_bad_edits_and_ids_are_4xx(node: Node) -> None:
    pir = _pir(node, keywords=["x"])
    bad_status = node.client.patch(f"/api/v1/pirs/{pir['id']}", json={"status": "done"}, headers=node.h("alice"))
    assert bad_status.status_code == 400
    assert "status" in bad_status.text
    assert node.client.get("/api/v1/pirs/not-an-id", headers=node.h("alice")).status_code == 404
    assert node.client.get("/api/v1/pirs", params={"status": "x"}, headers=node.h("alice")).status_code == 400
