"""Checklist 7, 13, 14: collections per caller, can_read/can_write, access answers."""

from __future__ import annotations

import uuid

from tests.builders import make_indicator
from tests.integration.taxii.conftest import post_envelope


def _collections(client, headers):
    r = client.get("/taxii2/api/collections/", headers=headers)
    assert r.status_code == 200
    return {c["alias"]: c for c in r.json().get("collections", [])}


def test_each_caller_sees_only_its_collections_with_its_rights(client, community):
    alice = _collections(client, community.auth["alice"])
    assert set(alice) == {"shared", "alpha-only", "drop"}
    assert (alice["drop"]["can_read"], alice["drop"]["can_write"]) == (True, False)
    assert (alice["shared"]["can_read"], alice["shared"]["can_write"]) == (True, True)
    bob = _collections(client, community.auth["bob"])
    assert set(bob) == {"shared", "drop"}
    assert (bob["drop"]["can_read"], bob["drop"]["can_write"]) == (False, True)
    rita = _collections(client, community.auth["rita"])  # reader role: never can_write
    assert not any(c["can_write"] for c in rita.values())
    ro = _collections(client, community.auth["alice_ro"])  # read-only token
    assert not any(c["can_write"] for c in ro.values())
    root = _collections(client, community.auth["root"])  # admins see all
    assert set(root) == {"shared", "alpha-only", "drop"}
    for c in root.values():
        assert uuid.UUID(c["id"]).version == 4
        assert c["title"]
        assert c["media_types"] == ["application/stix+json;version=2.1"]


def test_collection_list_order_is_stable(client, community):
    r1 = client.get("/taxii2/api/collections/", headers=community.auth["root"]).json()
    r2 = client.get("/taxii2/api/collections/", headers=community.auth["root"]).json()
    assert [c["id"] for c in r1["collections"]] == [c["id"] for c in r2["collections"]]


def test_no_collections_is_empty_object(client, community, engine):
    from tests.builders import make_org, make_user

    with engine.begin() as conn:
        make_org(conn, "Lonely")
        make_user(conn, "Lonely", "analyst", "lonely@example.org", password=None)
        from accord.accounts import service as accounts

        token = accounts.create_token(conn, "lonely@example.org", actor="test")
    headers = {**community.auth["alice"], "Authorization": f"Bearer {token}"}
    r = client.get("/taxii2/api/collections/", headers=headers)
    assert r.status_code == 200
    assert r.json() == {}


def test_invisible_collection_is_404_everywhere(client, community):
    bob = community.auth["bob"]
    coll = community.alpha_only
    for tail in ("", "objects/", "manifest/", "objects/indicator--x/", "objects/indicator--x/versions/"):
        assert client.get(community.url(coll, tail), headers=bob).status_code == 404
    assert post_envelope(client, bob, community.url(coll, "objects/"), make_indicator()).status_code == 404
    assert client.delete(community.url(coll, "objects/indicator--x/"), headers=bob).status_code == 404
    assert client.get(f"/taxii2/api/collections/{uuid.uuid4()}/", headers=bob).status_code == 404


def test_write_only_collection_cannot_be_read(client, community):
    bob = community.auth["bob"]
    coll = community.drop
    assert post_envelope(client, bob, community.url(coll, "objects/"), make_indicator()).status_code == 202
    for tail in ("objects/", "manifest/", "objects/indicator--x/", "objects/indicator--x/versions/"):
        assert client.get(community.url(coll, tail), headers=bob).status_code in (403, 404)


def test_cannot_write_without_write_access(client, community):
    obj = make_indicator()
    r = post_envelope(client, community.auth["alice"], community.url(community.drop, "objects/"), obj)
    assert r.status_code in (403, 404)
    for who in ("rita", "alice_ro"):
        r = post_envelope(client, community.auth[who], community.url(community.shared, "objects/"), obj)
        assert r.status_code in (403, 404)
        assert r.headers["content-type"] == "application/taxii+json;version=2.1"
