"""DELETE /collections/{id}/objects/{object-id}/ removes the matching versions from that collection only.

TAXII 2.1 §5.7 scopes the delete to the collection in the URL; a collection is one view of the store, so the
versions stay stored (immutable history, W2 checks, provenance and the correlation index) and stay in every
other collection that holds them.
"""

from __future__ import annotations

import uuid

from tests.builders import make_indicator, ts
from tests.integration.taxii.conftest import post_envelope


def _versions(oid: str, n: int):
    return [make_indicator(oid=oid, created=ts(0), modified=ts(i)) for i in range(n)]


def test_delete_leaves_other_collections_alone(client, community):
    alice = community.auth["alice"]
    oid = f"indicator--{uuid.uuid4()}"
    objs = _versions(oid, 2)
    for coll in (community.shared, community.alpha_only):
        assert post_envelope(client, alice, community.url(coll, "objects/"), *objs).json()["success_count"] == 2
    assert client.delete(community.url(community.shared, f"objects/{oid}/"), headers=alice).status_code == 200
    assert client.get(community.url(community.shared, f"objects/{oid}/"), headers=alice).status_code == 404
    still = client.get(community.url(community.alpha_only, f"objects/{oid}/versions/"), headers=alice).json()
    assert len(still["versions"]) == 2
    # bob read it through the shared collection only: gone for him, indistinguishable from never stored
    bob = community.auth["bob"]
    assert client.get(community.url(community.shared, f"objects/{oid}/"), headers=bob).status_code == 404


def test_delete_per_match_version_last(client, community):
    alice = community.auth["alice"]
    oid = f"indicator--{uuid.uuid4()}"
    url = community.url(community.shared, "objects/")
    assert post_envelope(client, alice, url, *_versions(oid, 3)).json()["success_count"] == 3
    r = client.delete(community.url(community.shared, f"objects/{oid}/") + "?match[version]=last", headers=alice)
    assert r.status_code == 200
    versions = client.get(community.url(community.shared, f"objects/{oid}/versions/"), headers=alice).json()
    assert len(versions["versions"]) == 2
    # "last" is now the newest version left in this collection
    body = client.get(community.url(community.shared, f"objects/{oid}/"), headers=alice).json()
    assert [o["modified"] for o in body["objects"]] == [ts(1)]


def test_deleted_version_can_be_posted_again_and_stays_immutable(client, community):
    alice = community.auth["alice"]
    oid = f"indicator--{uuid.uuid4()}"
    url = community.url(community.shared, "objects/")
    obj = _versions(oid, 1)[0]
    assert post_envelope(client, alice, url, obj).json()["success_count"] == 1
    assert client.delete(community.url(community.shared, f"objects/{oid}/"), headers=alice).status_code == 200
    again = post_envelope(client, alice, url, obj).json()  # an exact duplicate: a success, back in the collection
    assert again["success_count"] == 1
    assert client.get(community.url(community.shared, f"objects/{oid}/"), headers=alice).status_code == 200
    changed = post_envelope(client, alice, url, {**obj, "name": "changed body"}).json()
    assert changed["failure_count"] == 1  # W2: a stored (id, modified) never changes body


def test_readers_and_read_only_tokens_cannot_delete(client, community):
    alice = community.auth["alice"]
    oid = f"indicator--{uuid.uuid4()}"
    url = community.url(community.shared, "objects/")
    assert post_envelope(client, alice, url, *_versions(oid, 1)).status_code == 202
    target = community.url(community.shared, f"objects/{oid}/")
    assert client.delete(target, headers=community.auth["alice_ro"]).status_code == 403
    assert client.delete(target, headers=community.auth["rita"]).status_code == 403  # Alpha's reader role
    assert client.get(target, headers=alice).status_code == 200
