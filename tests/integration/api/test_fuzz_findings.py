"""What the schemathesis runs found, each kept as a plain regression test."""

from __future__ import annotations

from tests.integration.api.conftest import Node


def test_a_sighting_with_an_unknown_tlp_is_a_400_not_a_500(node: Node) -> None:
    made = node.client.post(
        "/api/v1/collections",
        json={"title": "Intel", "alias": "intel", "read": ["Alpha"], "write": ["Alpha"]},
        headers=node.bearer("admin"),
    )
    assert made.status_code == 201, made.text
    for collection in ("intel", "no-such-collection"):  # the same answer whether the collection exists or not
        body = {"collection": collection, "value": "198.51.100.7", "tlp": "0.1.0"}
        r = node.client.post("/api/v1/sightings", json=body, headers=node.bearer("alice"))
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "TLP" in r.json()["detail"]
    ok = {"collection": "intel", "value": "198.51.100.7", "tlp": "green"}
    r = node.client.post("/api/v1/sightings", json=ok, headers=node.bearer("alice"))
    assert r.status_code == 201, r.text  # a known level is stored
