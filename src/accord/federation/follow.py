"""Following joint work on peers: the collection of a case, request or requirement (alias `case-<uuid>`,
`rfi-<uuid>`, `pir-<uuid>`, the same on every node) that a peer lets this node's link read is pulled into the
local collection of that alias, without a subscription made by hand for each one.

A peer's TAXII collections listing shows the link's account only the collections its organisation reads, so a
joint collection listed there is one of joint work this node's organisation takes part in. A collection followed
for the first time is made here, readable by the link's local organisation and by the peer's organisation (so
that the peer pulls back what is added here) and writable by the link's organisation; an existing local
collection of that alias is followed only when the peer's organisation reads it already (the owner shared the
work with it). Each new subscription is audited (`joint.follow`, `peer.pull`); one removed by hand is not made
again. `ACCORD_JOINT_FOLLOW=false` leaves following to `accord peer follow NAME`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import Connection, Engine

from accord.accounts.repository import get_collection_by_alias
from accord.accounts.service import create_collection
from accord.audit.service import record
from accord.core.db import read_transaction, transaction
from accord.core.errors import AccordError
from accord.federation import repository as repo
from accord.federation.service import get_peer_or_raise, subscribe
from accord.sharing.repository import collections_for_org

log = logging.getLogger("accord.federation")
JOINT_ALIAS = re.compile(r"^(case|rfi|pir)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TITLES = {"case": "Case", "rfi": "Request", "pir": "Requirement"}


def joint_collections(listed: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(TAXII id, alias) of the joint-work collections in a peer's collections listing that may be read."""
    return [
        (str(c["id"]), c["alias"])
        for c in listed
        if isinstance(c.get("alias"), str) and JOINT_ALIAS.match(c["alias"]) and c.get("can_read", True) is not False
    ]


def follow(conn: Connection, peer: Any, remote_collection: str, alias: str, *, actor: str) -> bool:
    """Make the pull of one joint collection of a peer into the local collection of the same alias, unless it
    exists (enabled or not) or the local collection is not shared with the peer's organisation; whether made."""
    coll = get_collection_by_alias(conn, alias)
    if coll is None:
        names = [n for n in (peer.org_name, peer.remote_org_name) if n]
        kind = alias.partition("-")[0]
        create_collection(
            conn,
            f"{_TITLES[kind]} followed from peer {peer.name}",
            alias,
            readers=names,
            writers=names[:1],
            description=f"Joint work pulled from collection {remote_collection} of peer {peer.name}",
            actor=actor,
        )
        coll = get_collection_by_alias(conn, alias)
        assert coll is not None
    elif coll.id not in collections_for_org(conn, peer.source_org_id, "read"):
        return False  # a collection of that name the peer's organisation has no part in: never filled from it
    elif coll.id not in collections_for_org(conn, peer.local_org_id, "write"):
        return False  # joint work of another local organisation than the link's: its own link follows it
    if repo.pulls_into(conn, peer.id, coll.id):
        return False
    subscribe(conn, peer.name, "pull", remote_collection=remote_collection, collection=alias, actor=actor)
    record(conn, actor, "joint.follow", peer.name, remote_collection=remote_collection, collection=alias)
    return True


def follow_peer(engine: Engine, name: str, *, actor: str = "sync") -> list[str]:
    """List a peer's collections and follow each joint one not followed yet; the aliases followed now."""
    from accord.federation.sync import remote_server
    from accord.remote.taxii import TaxiiClient

    with read_transaction(engine) as conn:
        peer = get_peer_or_raise(conn, name)
    with TaxiiClient(remote_server(peer)) as client:
        found = joint_collections(client.collections())
    if not found:
        return []
    with transaction(engine) as conn:
        return [alias for remote, alias in found if follow(conn, peer, remote, alias, actor=actor)]


def follow_peers(engine: Engine, names: list[str] | None = None, *, actor: str = "sync") -> None:
    """follow_peer for these peers (or every enabled one); a peer that cannot be listed is logged and skipped:
    its subscriptions run all the same."""
    with read_transaction(engine) as conn:
        peers = [get_peer_or_raise(conn, n) for n in names] if names else repo.list_peers(conn)
    for peer in peers:
        if not peer.enabled:
            continue
        try:
            follow_peer(engine, peer.name, actor=actor)
        except AccordError as exc:
            log.info("peer %s: joint collections not followed (%s)", peer.name, exc.message)
