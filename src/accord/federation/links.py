"""What arrives over a peer's link, pulled by us or pushed to us: its creators' records, W1 and provenance."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from accord.accounts.service import available_org_name, create_org, get_org_by_identity
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import AccordError
from accord.core.keys import verify_body
from accord.federation import repository as repo
from accord.feeds.repository import add_link_org, link_orgs
from accord.models.collections import peer
from accord.sharing.policy import Principal
from accord.store.pipeline import pipeline_for, prepare_batches
from accord.store.repository import lock_writers
from accord.store.service import IngestReport, WriteContext, ingest_batches

IDENTITY_RE = re.compile(r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PUSHED = "(pushed)"  # the remote collection recorded for what a peer pushed to us


def creator_records(conn: Connection, link_id: int, objects: Iterable[Any], actor: str) -> frozenset[int]:
    """The organisations the link speaks for once the creators named by these objects have records.

    A creator met for the first time gets a record of a remote organisation with its identity id (named after
    its identity object when one comes along); a `created_by_ref` naming one of this node's own organisations
    gets none, so W1 refuses what claims to be theirs.
    """
    names: dict[str, str] = {}
    refs: set[str] = set()
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        ref = obj.get("created_by_ref")
        if isinstance(ref, str) and IDENTITY_RE.match(ref):
            refs.add(ref)
        if obj.get("type") == "identity" and isinstance(obj.get("name"), str) and isinstance(obj.get("id"), str):
            names[obj["id"]] = obj["name"]
    speaks_for = set(link_orgs(conn, link_id))
    for ref in sorted(refs):
        row = get_org_by_identity(conn, ref)
        if row is None:
            name = available_org_name(conn, names.get(ref) or f"organisation {ref[10:18]}", f"remote {ref[10:18]}")
            row = create_org(conn, name, actor=actor, is_remote=True, stix_id=ref)
        elif not row.is_remote:
            continue
        if row.id not in speaks_for:
            add_link_org(conn, link_id, row.id)
            speaks_for.add(row.id)
    return frozenset(speaks_for)


def link_context(
    conn: Connection, link: Any, collection_id: int, objects: Iterable[Any], actor: str, *, keep_outcomes: bool = False
) -> WriteContext:
    """How to store objects that arrived over a peer's link (after making their creators' records)."""
    lock_writers(conn)  # creator records are made once even when two writers meet the same creator
    return WriteContext(
        writer_org_id=link.local_org_id,
        collection_id=collection_id,
        peer_id=link.id,
        peer_org_ids=creator_records(conn, link.id, objects, actor),
        source_org_id=link.source_org_id,
        keep_outcomes=keep_outcomes,
    )


def note_receipts(
    conn: Connection, link_id: int, report: IngestReport, *, sub_id: int | None, remote_collection: str
) -> None:
    """Record where the versions this report stored came from."""
    received = now_us()
    repo.insert_receipts(
        conn,
        [
            {
                "object_seq": seq,
                "peer_id": link_id,
                "subscription_id": sub_id,
                "remote_collection": remote_collection,
                "received_us": received,
            }
            for seq in report.stored_seqs
        ],
    )


def store_received(
    conn: Connection,
    link: Any,
    collection_id: int,
    objects: list[Any],
    *,
    sub_id: int | None,
    remote_collection: str,
    actor: str,
) -> IngestReport:
    """Store what a pull brought into a local collection, with provenance; the caller commits.

    A page is prepared as a TAXII envelope is (accord.store.pipeline): a helper process prepares part of it
    while this one prepares and writes the rest."""
    ctx = link_context(conn, link, collection_id, objects, actor)
    report = ingest_batches(conn, prepare_batches(objects, pipeline=pipeline_for(conn)), ctx)
    note_receipts(conn, link.id, report, sub_id=sub_id, remote_collection=remote_collection)
    return report


def inbound_link(conn: Connection, principal: Principal) -> Any | None:
    """The peer whose organisation's record this writer is (its sync account pushing to us), or None.

    What such an account writes arrives over that peer's link, exactly as if we had pulled it: owned by its
    creators' records, read at every TLP by the link's local organisation only (R4), never sent back (F2).
    """
    if principal.is_admin:
        return None
    stmt = select(peer).where(peer.c.kind == "peer", peer.c.source_org_id == principal.org_id).order_by(peer.c.id)
    return conn.execute(stmt.limit(1)).first()


class UnsignedContent(AccordError):
    """A peer registered with a public key sent content its key does not sign."""

    status = 401


def signature_refusal(
    conn: Connection, link: Any | None, principal: Principal, body: bytes, signature: str | None
) -> UnsignedContent | None:
    """In the writer's unit of work, before anything is stored: the refusal of an envelope pushed over `link`
    (inbound_link, looked up in the same unit of work) when its peer must sign and the signature does not verify
    with the peer's key, audited in `conn`; None when the envelope may be stored. The caller stores nothing after
    a refusal and commits the audit."""
    if link is None or not link.public_key:
        return None
    try:
        verify_body(link.public_key, body, signature)
    except AccordError as exc:
        record(conn, principal.email or f"org:{principal.org_id}", "peer.refused", link.name, reason=exc.message)
        return UnsignedContent(f"peer {link.name}: {exc.message}; nothing was stored")
    return None
