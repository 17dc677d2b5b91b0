"""What a peer's sync account pushes to us arrives over that peer's link: signed when it must be, owned by its
creators' records, read at every TLP only by the link's organisation, and recorded with its provenance."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from accord.accounts import service as accounts
from accord.core import keys
from accord.core.db import get_engine
from accord.federation.service import PeerSpec, add_peer
from accord.models.audit import audit_log
from accord.models.collections import collection
from accord.models.federation import receipt
from accord.models.objects import stix_object
from accord.stix.markings import Tlp
from tests.builders import make_collection, make_indicator
from tests.integration.api.conftest import Node

MEDIA = "application/taxii+json;version=2.1"


def _setup(node: Node, *, signed: bool) -> tuple[str, str]:
    """Bravo is the record of a peer that belongs to Alpha; Bravo's sync account may write 'inbox'."""
    with get_engine().begin() as conn:
        make_collection(conn, "inbox", readers=["Alpha", "Bravo"], writers=["Bravo"])
        add_peer(
            conn,
            PeerSpec(
                name="bravo-node",
                url="https://bravo.example/taxii2/",
                org="Alpha",
                token="t",
                remote_org="Bravo",
                public_key=keys.public_key_text() if signed else None,  # this node's own key stands in for Bravo's
            ),
        )
        accounts.create_user(conn, "sync@bravo.example", "Bravo", "sync", None)
        token = accounts.create_token(conn, "sync@bravo.example")
        cid = conn.execute(select(collection.c.uuid).where(collection.c.alias == "inbox")).scalar()
    return token, str(cid)


def _post(node: Node, token: str, cid: str, objects: list[dict], signature: str | None = None):
    body = orjson.dumps({"objects": objects})
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MEDIA, "Accept": MEDIA}
    if signature is not None:
        headers[keys.SIGNATURE_HEADER] = signature
    return node.client.post(f"/taxii2/api/collections/{cid}/objects/", content=body, headers=headers), body


def test_a_peer_that_must_sign_is_refused_unsigned_or_tampered(node: Node) -> None:
    token, cid = _setup(node, signed=True)
    amber = make_indicator(tlp=Tlp.AMBER)
    r, body = _post(node, token, cid, [amber])
    assert r.status_code == 401
    assert "signature" in r.json()["description"].lower() or "unsigned" in r.json()["description"].lower()
    r, _ = _post(node, token, cid, [amber], keys.sign_body(body + b" "))
    assert r.status_code == 401
    with get_engine().connect() as conn:
        assert conn.execute(select(stix_object.c.seq).where(stix_object.c.id == amber["id"])).first() is None
        # Each refusal is audited (committed although nothing else of the request is), and no status was made.
        refused = select(audit_log.c.target).where(audit_log.c.action == "peer.refused")
        assert conn.execute(refused).scalars().all() == ["bravo-node", "bravo-node"]
        assert conn.execute(select(audit_log.c.seq).where(audit_log.c.action == "taxii.add_objects")).first() is None
    r, _ = _post(node, token, cid, [amber], keys.sign_body(body))
    assert r.status_code == 202, r.text
    assert r.json()["success_count"] == 1


def test_a_push_is_stored_over_the_link_with_provenance(node: Node) -> None:
    token, cid = _setup(node, signed=False)
    amber = make_indicator(tlp=Tlp.AMBER)
    r, _ = _post(node, token, cid, [amber])
    assert r.status_code == 202, r.text
    with get_engine().connect() as conn:
        row = conn.execute(select(stix_object).where(stix_object.c.id == amber["id"])).one()
        assert row.peer_id is not None
        assert conn.execute(select(receipt.c.remote_collection).where(receipt.c.object_seq == row.seq)).scalar() == (
            "(pushed)"
        )
    # AMBER that arrived over the link: Alpha (the link's organisation) reads it, the pusher itself as its owner.
    alice = node.client.get(f"/api/v1/objects/{amber['id']}", headers=node.bearer("alice"))
    assert alice.status_code == 200
    bob = node.client.get(f"/api/v1/objects/{amber['id']}", headers=node.bearer("bob"))
    assert bob.status_code == 200  # Bravo owns it (its record wrote it, R1)
