"""All SQL of federation: peers (links of kind 'peer'), their subscriptions, provenance and what a push sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Row, cast, func, insert, literal, or_, select, update

from accord.models.accounts import org
from accord.models.collections import collection, peer
from accord.models.federation import receipt, subscription
from accord.models.objects import collection_object, id_in, stix_object
from accord.sharing.policy import Principal, readable_clause
from accord.store.repository import chunks

PEER = "peer"


def insert_peer(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a peer link; its id."""
    return int(conn.execute(insert(peer).values(kind=PEER, **values)).inserted_primary_key[0])  # type: ignore[index]


def _described() -> Any:
    local, source = org.alias("local"), org.alias("source")
    return (
        select(peer, local.c.name.label("org_name"), source.c.name.label("remote_org_name"))
        .join(local, local.c.id == peer.c.local_org_id)
        .join(source, source.c.id == peer.c.source_org_id, isouter=True)
        .where(peer.c.kind == PEER)
    )


def get_peer(conn: Connection, name: str) -> Row[Any] | None:
    """The peer with this name (with its organisation's and remote record's names), or None."""
    return conn.execute(_described().where(peer.c.name == name)).first()


def get_peer_by_id(conn: Connection, peer_id: int) -> Row[Any] | None:
    """The peer with this id, or None."""
    return conn.execute(_described().where(peer.c.id == peer_id)).first()


def list_peers(conn: Connection) -> list[Row[Any]]:
    """Every peer (feed links aside), by name."""
    return list(conn.execute(_described().order_by(peer.c.name)))


def update_peer(conn: Connection, peer_id: int, values: Mapping[str, Any]) -> None:
    """Change a peer's settings."""
    if values:
        conn.execute(update(peer).where(peer.c.id == peer_id).values(**values))


def insert_subscription(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a subscription; its id."""
    return int(conn.execute(insert(subscription).values(**values)).inserted_primary_key[0])  # type: ignore[index]


def _subscriptions() -> Any:
    s = subscription.c
    return (
        select(subscription, peer.c.name.label("peer_name"), collection.c.alias.label("collection_alias"))
        .join(peer, peer.c.id == s.peer_id)
        .join(collection, collection.c.id == s.collection_id)
    )


def find_subscription(
    conn: Connection, peer_id: int, direction: str, remote_collection: str, collection_id: int
) -> Row[Any] | None:
    """The subscription of this peer, direction and pair of collections, or None."""
    s = subscription.c
    stmt = _subscriptions().where(
        s.peer_id == peer_id,
        s.direction == direction,
        s.remote_collection == remote_collection,
        s.collection_id == collection_id,
    )
    return conn.execute(stmt).first()


def pulls_into(conn: Connection, peer_id: int, collection_id: int) -> bool:
    """Whether a pull of this peer (enabled or not) fills this local collection."""
    s = subscription.c
    stmt = select(s.id).where(s.peer_id == peer_id, s.direction == "pull", s.collection_id == collection_id)
    return conn.execute(stmt.limit(1)).first() is not None


def get_subscription(conn: Connection, sub_id: int) -> Row[Any] | None:
    """One subscription by id, or None."""
    return conn.execute(_subscriptions().where(subscription.c.id == sub_id)).first()


def list_subscriptions(conn: Connection, peer_id: int | None = None) -> list[Row[Any]]:
    """Subscriptions (of one peer), by peer name, direction and id."""
    stmt = _subscriptions().where(peer.c.kind == PEER)
    if peer_id is not None:
        stmt = stmt.where(subscription.c.peer_id == peer_id)
    return list(conn.execute(stmt.order_by(peer.c.name, subscription.c.direction, subscription.c.id)))


def update_subscription(conn: Connection, sub_id: int, values: Mapping[str, Any]) -> None:
    """Change a subscription's state (totals are added with `add_totals`)."""
    if values:
        conn.execute(update(subscription).where(subscription.c.id == sub_id).values(**values))


def add_totals(conn: Connection, sub_id: int, counts: Mapping[str, int]) -> None:
    """Add to a subscription's running totals (received, stored, duplicates, refused, removed, sent)."""
    s = subscription.c
    values = {name: getattr(s, name) + n for name, n in counts.items() if n}
    if values:
        conn.execute(update(subscription).where(s.id == sub_id).values(**values))


def delete_subscriptions(conn: Connection, peer_id: int) -> int:
    """Remove a peer's subscriptions; how many."""
    result = conn.execute(subscription.delete().where(subscription.c.peer_id == peer_id))
    return int(result.rowcount or 0)


def due_subscription_ids(conn: Connection, now_us: int, default_seconds: int) -> list[int]:
    """Enabled subscriptions of enabled peers whose interval (and backoff) has passed."""
    s = subscription.c
    every = cast(func.coalesce(s.every_seconds, default_seconds), BigInteger) * 1_000_000
    stmt = (
        select(s.id)
        .join(peer, peer.c.id == s.peer_id)
        .where(peer.c.kind == PEER, peer.c.enabled.is_(True), s.enabled.is_(True))
        .where(or_(s.next_run_us.is_(None), s.next_run_us <= now_us))
        .where(or_(s.last_run_us.is_(None), s.last_run_us <= literal(now_us, BigInteger) - every, s.failures > 0))
        .order_by(s.id)
    )
    return list(conn.execute(stmt).scalars())


def live_subscription_ids(conn: Connection) -> list[int]:
    """Enabled `--live` pulls of enabled peers."""
    s = subscription.c
    stmt = (
        select(s.id)
        .join(peer, peer.c.id == s.peer_id)
        .where(peer.c.kind == PEER, peer.c.enabled.is_(True), s.enabled.is_(True), s.live.is_(True))
        .where(s.direction == "pull")
        .order_by(s.id)
    )
    return list(conn.execute(stmt).scalars())


def insert_receipts(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record where newly stored versions came from."""
    if rows:
        conn.execute(insert(receipt), list(rows))


def pending_push(
    conn: Connection, reader: Principal, collection_id: int, after_tick: int, limit: int, exclude_peer_id: int
) -> list[Row[Any]]:
    """The collection's versions added after `after_tick` that `reader` may read and that did not arrive over the
    peer's own link (F2): (tick, raw), oldest first."""
    member = collection_object.alias("member")  # the policy probes collection_object on its own
    o, m = stix_object.c, member.c
    stmt = (
        select(m.tick, o.raw)
        .select_from(member.join(stix_object, o.seq == m.object_seq))
        .where(m.collection_id == collection_id, m.tick > after_tick)
        .where(or_(o.peer_id.is_(None), o.peer_id != exclude_peer_id))
        .where(readable_clause(reader, stix_object))
        .order_by(m.tick)
        .limit(limit)
    )
    return list(conn.execute(stmt))


def received_memberships(
    conn: Connection, collection_id: int, peer_id: int, ids: Sequence[str] | None = None
) -> dict[tuple[str, str], int]:
    """(id, version) -> membership tick of the versions in a collection that arrived over this link (of these ids
    only, when named)."""
    o, m = stix_object.c, collection_object.c
    base = (
        select(o.id, o.version, m.tick)
        .select_from(collection_object.join(stix_object, o.seq == m.object_seq))
        .where(m.collection_id == collection_id, o.peer_id == peer_id)
    )
    if ids is None:
        return {(r.id, r.version): r.tick for r in conn.execute(base)}
    out: dict[tuple[str, str], int] = {}
    for part in chunks(sorted(set(ids))):
        out.update({(r.id, r.version): r.tick for r in conn.execute(base.where(id_in(stix_object, part)))})
    return out
