"""Peers over REST: admins only, tokens stored encrypted and never returned, clear 4xx on bad input."""

from __future__ import annotations

from sqlalchemy import select

from accord.core.db import get_engine
from accord.models.collections import peer
from tests.integration.api.conftest import Node

BODY = {
    "name": "partner-a",
    "url": "https://taxii.partner-a.example/taxii2/api/",
    "org": "Alpha",
    "token": "s3cret-partner-token",
}


def test_admins_add_list_edit_and_remove_peers(node: Node) -> None:
    admin = node.bearer("admin")
    r = node.client.post("/api/v1/peers", json=BODY, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["org"] == "Alpha"
    assert r.json()["remote_org"] == "partner-a"
    assert "s3cret" not in r.text
    listed = node.client.get("/api/v1/peers", headers=admin)
    assert [p["name"] for p in listed.json()] == ["partner-a"]
    assert "s3cret" not in listed.text
    with get_engine().connect() as conn:
        stored = conn.execute(select(peer.c.secret).where(peer.c.name == "partner-a")).scalar_one()
    assert stored.startswith("enc:")
    assert "s3cret" not in stored

    r = node.client.post(
        "/api/v1/peers/partner-a/subscriptions",
        json={"direction": "pull", "remote_collection": "abc", "collection": "nope"},
        headers=admin,
    )
    assert r.status_code == 404  # no such local collection

    r = node.client.patch("/api/v1/peers/partner-a", json={"enabled": False}, headers=admin)
    assert r.status_code == 200
    assert r.json()["enabled"] is False
    assert node.client.delete("/api/v1/peers/partner-a", headers=admin).status_code == 204
    assert node.client.get("/api/v1/peers/partner-a", headers=admin).status_code == 404
    # The name is free again.
    assert node.client.post("/api/v1/peers", json=BODY, headers=admin).status_code == 201


def test_peers_are_for_admins_only(node: Node) -> None:
    for who in ("alice", "rita"):
        assert node.client.get("/api/v1/peers", headers=node.bearer(who)).status_code == 403
        assert node.client.post("/api/v1/peers", json=BODY, headers=node.bearer(who)).status_code == 403
    assert node.client.post("/api/v1/peers", json=BODY, headers=node.bearer("admin-ro")).status_code == 403


def test_bad_peer_settings_get_a_clear_4xx(node: Node) -> None:
    admin = node.bearer("admin")
    cases = [
        ({**BODY, "url": "ftp://x.example/"}, 400, "http"),
        ({**BODY, "name": "bad name!"}, 400, "peer name"),
        ({**BODY, "org": "Nobody"}, 404, "Nobody"),
        ({**BODY, "public_key": "not a key"}, 400, "key"),
        ({**BODY, "token": "two\nlines"}, 400, "token"),
    ]
    for body, status, words in cases:
        r = node.client.post("/api/v1/peers", json=body, headers=admin)
        assert r.status_code == status, (body, r.text)
        assert words.lower() in r.text.lower()
    assert node.client.post("/api/v1/peers", json=BODY, headers=admin).status_code == 201
    assert node.client.post("/api/v1/peers", json=BODY, headers=admin).status_code == 409


def test_a_username_needs_a_password_when_edited_too(node: Node) -> None:
    admin = node.bearer("admin")
    bare = {k: v for k, v in BODY.items() if k != "token"}
    assert node.client.post("/api/v1/peers", json=bare, headers=admin).status_code == 201
    r = node.client.patch("/api/v1/peers/partner-a", json={"username": "me"}, headers=admin)
    assert r.status_code == 400
    assert "password" in r.text
    r = node.client.patch("/api/v1/peers/partner-a", json={"username": "me", "token": "pw"}, headers=admin)
    assert r.status_code == 200
    assert node.client.patch("/api/v1/peers/partner-a", json={"username": "a:b"}, headers=admin).status_code == 400
