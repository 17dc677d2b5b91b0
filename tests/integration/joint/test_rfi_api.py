"""Requests for information between partners through the REST API: ask, answer with text and objects,
response times, close; a third organisation sees none of it."""

from __future__ import annotations

import uuid

import pytest
from stix2validator import validate_instance

from accord.stix.markings import Tlp, tlp_marking_definition
from tests.integration.joint.conftest import Node

pytestmark = pytest.mark.usefixtures("db_url")


def _ask(node: Node, **extra) -> dict:
    body = {"title": "Seen this address?", "to": ["Bravo"], "values": ["203.0.113.1"], **extra}
    r = node.client.post("/api/v1/rfis", json=body, headers=node.h("alice"))
    assert r.status_code == 201, r.text
    return r.json()


def test_a_partner_answers_with_text_and_objects_and_a_third_org_sees_nothing(node: Node) -> None:
    c, h = node.client, node.h
    req = _ask(node, question="Any sightings?", object_ids=[node.indicator_ids[0]], due="2026-12-31T00:00:00Z")
    rid = req["id"]
    assert req["status"] == "open"
    assert req["from"] == "Alpha"
    assert req["to"] == ["Bravo"]
    assert req["response_seconds"] == {"Bravo": None}
    # The asker's own indicator asked about is shared with the addressed organisation.
    assert c.get(f"/api/v1/objects/{node.indicator_ids[0]}", headers=h("bob")).status_code == 200
    assert c.get(f"/api/v1/objects/{node.indicator_ids[1]}", headers=h("bob")).status_code == 404
    assert [r["id"] for r in c.get("/api/v1/rfis", headers=h("bob")).json()["rfis"]] == [rid]

    sighting = f"indicator--{uuid.uuid4()}"
    assert c.post(f"/api/v1/rfis/{rid}/answers", json={"content": "x"}, headers=h("alice")).status_code == 403
    answered = c.post(
        f"/api/v1/rfis/{rid}/answers", json={"content": "Yes, twice", "object_ids": [sighting]}, headers=h("bob")
    )
    assert answered.status_code == 201, answered.text
    seen = c.get(f"/api/v1/rfis/{rid}", headers=h("alice")).json()
    assert seen["status"] == "answered"
    assert [(a["org"], a["author"], a["content"], a["objects"]) for a in seen["answers"]] == [
        ("Bravo", "bob@bravo.example", "Yes, twice", [sighting])
    ]
    assert isinstance(seen["response_seconds"]["Bravo"], int)

    assert c.post(f"/api/v1/rfis/{rid}/close", json={"reason": "thanks"}, headers=h("bob")).status_code == 403
    closed = c.post(f"/api/v1/rfis/{rid}/close", json={"reason": "thanks"}, headers=h("alice"))
    assert closed.json()["status"] == "closed"
    assert c.post(f"/api/v1/rfis/{rid}/answers", json={"content": "late"}, headers=h("bob")).status_code == 409
    assert len(c.get(f"/api/v1/objects/{rid}/versions", headers=h("bob")).json()["versions"]) == 2

    # Charlie: absent everywhere; writes answer exactly as for a request that does not exist.
    assert c.get("/api/v1/rfis", headers=h("carol")).json() == {"rfis": []}
    missing = "x-accord-rfi--0e4b1c1e-9f7a-4d43-8a57-0f3b7e5b2c11"
    for method, path, body in (
        ("get", "/api/v1/rfis/{}", None),
        ("post", "/api/v1/rfis/{}/answers", {"content": "x"}),
        ("post", "/api/v1/rfis/{}/close", {"reason": "x"}),
    ):
        kwargs = {"headers": h("carol"), **({"json": body} if body else {})}
        real = getattr(c, method)(path.format(rid), **kwargs)
        absent = getattr(c, method)(path.format(missing), **kwargs)
        assert real.status_code == absent.status_code == 404
        assert real.json()["detail"].replace(rid, "ID") == absent.json()["detail"].replace(missing, "ID")
    assert c.get(f"/api/v1/objects/{rid}", headers=h("carol")).status_code == 404
    assert c.get(f"/api/v1/objects/{node.indicator_ids[0]}", headers=h("carol")).status_code == 404


def test_rfi_objects_are_valid_stix(node: Node) -> None:
    c, h = node.client, node.h
    rid = _ask(node)["id"]
    c.post(f"/api/v1/rfis/{rid}/answers", json={"content": "no"}, headers=h("bob"))
    objs = c.get("/api/v1/objects?type=x-accord-rfi&type=note", headers=h("alice")).json()["objects"]
    assert sorted(o["type"] for o in objs) == ["note", "x-accord-rfi"]
    shipped = c.get("/api/v1/joint/extensions", headers=h("alice")).json()["objects"]
    identities = [c.get(f"/api/v1/objects/{o['created_by_ref']}", headers=h("alice")).json() for o in objs]
    unique = {o["id"]: o for o in [*shipped, *identities, tlp_marking_definition(Tlp.AMBER), *objs]}
    result = validate_instance({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(unique.values())})
    assert result.is_valid, [str(e) for e in result.errors]
    assert [str(w) for w in result.warnings] == []


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"title": "x", "to": ["Alpha"]}, 400, "addressed to other organisations"),
        ({"title": "x", "to": ["Nobody"]}, 404, "no organisation"),
        ({"title": "x", "to": ["Bravo"], "due": "soon"}, 400, "not a STIX timestamp"),
        ({"title": "x", "to": ["Bravo"], "tlp": "amber+strict"}, 400, "TLP:CLEAR, TLP:GREEN or TLP:AMBER"),
        ({"title": "x", "to": []}, 422, ""),
    ],
)
def test_bad_requests_get_a_precise_4xx(node: Node, body: dict, status: int, detail: str) -> None:
    r = node.client.post("/api/v1/rfis", json=body, headers=node.h("alice"))
    assert r.status_code == status, r.text
    assert detail in str(r.json()["detail"])
