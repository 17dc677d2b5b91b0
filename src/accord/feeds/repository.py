"""All SQL of feeds: feed rows, their links, per-pull statistics, delivered-event marks and first-seen lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Row, cast, delete, func, insert, literal, or_, select, update

from accord.models.accounts import org
from accord.models.collections import collection, peer, peer_org
from accord.models.feeds import feed, feed_mark, feed_pull
from accord.models.objects import id_in, stix_object
from accord.store.repository import chunks


def insert_feed(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a feed row; its id."""
    return int(conn.execute(insert(feed).values(**values)).inserted_primary_key[0])  # type: ignore[index]


def get_feed(conn: Connection, name: str) -> Row[Any] | None:
    """The feed with this name, or None."""
    return conn.execute(select(feed).where(feed.c.name == name)).first()


def get_feed_by_id(conn: Connection, feed_id: int) -> Row[Any] | None:
    """The feed with this id, or None."""
    return conn.execute(select(feed).where(feed.c.id == feed_id)).first()


def insert_link(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a link (a peer row); its id."""
    return int(conn.execute(insert(peer).values(**values)).inserted_primary_key[0])  # type: ignore[index]


def link_exists(conn: Connection, name: str) -> bool:
    """Whether a link (peer or feed) has this name."""
    return conn.execute(select(peer.c.id).where(peer.c.name == name)).first() is not None


def link_orgs(conn: Connection, link_id: int) -> frozenset[int]:
    """The organisations a link speaks for."""
    return frozenset(conn.execute(select(peer_org.c.org_id).where(peer_org.c.peer_id == link_id)).scalars())


def add_link_org(conn: Connection, link_id: int, org_id: int) -> None:
    """Record that a link speaks for an organisation (once)."""
    if org_id not in link_orgs(conn, link_id):
        conn.execute(insert(peer_org).values(peer_id=link_id, org_id=org_id))


def _described() -> Any:
    """Feeds with their collection alias, organisation, link and source names, and their latest pull's figures."""
    owner, source = org.alias("owner"), org.alias("source")
    latest = (
        select(
            feed_pull.c.feed_id,
            func.max(feed_pull.c.id).label("pull_id"),
            func.count().label("pulls"),
            func.sum(feed_pull.c.stored).label("stored_total"),
        )
        .group_by(feed_pull.c.feed_id)
        .subquery()
    )
    return (
        select(
            feed,
            collection.c.alias.label("collection_alias"),
            owner.c.name.label("org_name"),
            peer.c.name.label("link_name"),
            source.c.name.label("source_name"),
            feed_pull.c.stored,
            feed_pull.c.duplicates,
            feed_pull.c.refused,
            feed_pull.c.fetched_bytes,
            feed_pull.c.http_status,
            feed_pull.c.started_us.label("pulled_us"),  # kept when re-enabling clears last_pull_us
            feed_pull.c.finished_us,
            func.coalesce(latest.c.pulls, 0).label("pulls"),
            func.coalesce(latest.c.stored_total, 0).label("stored_total"),
        )
        .join(collection, collection.c.id == feed.c.collection_id, isouter=True)
        .join(owner, owner.c.id == feed.c.org_id)
        .join(peer, peer.c.id == feed.c.peer_id)
        .join(source, source.c.id == feed.c.source_org_id)
        .join(latest, latest.c.feed_id == feed.c.id, isouter=True)
        .join(feed_pull, feed_pull.c.id == latest.c.pull_id, isouter=True)
    )


def list_feeds(conn: Connection) -> list[Row[Any]]:
    """Every feed described (collection, organisation, link, source, latest pull), by name."""
    return list(conn.execute(_described().order_by(feed.c.name)))


def describe_feed(conn: Connection, name: str) -> Row[Any] | None:
    """One feed described as by list_feeds, or None."""
    return conn.execute(_described().where(feed.c.name == name)).first()


def link_org_names(conn: Connection, link_id: int) -> list[str]:
    """The names of the organisations a link speaks for."""
    stmt = select(org.c.name).join(peer_org, peer_org.c.org_id == org.c.id).where(peer_org.c.peer_id == link_id)
    return list(conn.execute(stmt.order_by(org.c.name)).scalars())


def due_feed_ids(conn: Connection, now_us: int) -> list[int]:
    """Enabled scheduled feeds whose interval has passed since their last pull."""
    c = feed.c
    stmt = (
        select(c.id, c.every_minutes, c.last_pull_us)
        .where(c.enabled.is_(True), c.every_minutes.is_not(None), c.every_minutes > 0)
        # 64-bit arithmetic: microsecond times overflow PostgreSQL's integer.
        .where(
            or_(
                c.last_pull_us.is_(None),
                c.last_pull_us <= literal(now_us, BigInteger) - cast(c.every_minutes, BigInteger) * 60_000_000,
            )
        )
        .order_by(c.id)
    )
    return [r.id for r in conn.execute(stmt)]


def marks(conn: Connection, feed_id: int) -> dict[str, str]:
    """What this feed has delivered: key -> stamp."""
    rows = conn.execute(select(feed_mark.c.key, feed_mark.c.stamp).where(feed_mark.c.feed_id == feed_id))
    return {r.key: r.stamp for r in rows}


def set_marks(conn: Connection, feed_id: int, new: Mapping[str, str]) -> None:
    """Remember delivered keys (replacing their previous stamps)."""
    if not new:
        return
    keys = list(new)
    for part in chunks(keys):
        conn.execute(delete(feed_mark).where(feed_mark.c.feed_id == feed_id, feed_mark.c.key.in_(part)))
    conn.execute(insert(feed_mark), [{"feed_id": feed_id, "key": k, "stamp": v} for k, v in new.items()])


def insert_pull(conn: Connection, values: Mapping[str, Any]) -> None:
    """Record one pull's statistics."""
    conn.execute(insert(feed_pull).values(**values))


def update_feed(conn: Connection, feed_id: int, values: Mapping[str, Any]) -> None:
    """Update a feed's state columns."""
    if values:
        conn.execute(update(feed).where(feed.c.id == feed_id).values(**values))


def update_link(conn: Connection, link_id: int, values: Mapping[str, Any]) -> None:
    """Update a feed's link (its URL, or its name and kind when the feed is removed)."""
    conn.execute(update(peer).where(peer.c.id == link_id).values(**values))


def delete_marks(conn: Connection, feed_id: int) -> None:
    """Forget what a feed has delivered."""
    conn.execute(delete(feed_mark).where(feed_mark.c.feed_id == feed_id))


def delete_feed(conn: Connection, feed_id: int) -> int:
    """Delete a feed row with its marks and pulls (explicitly: SQLite may run without foreign keys); its pulls."""
    delete_marks(conn, feed_id)
    pulls = conn.execute(delete(feed_pull).where(feed_pull.c.feed_id == feed_id)).rowcount
    conn.execute(delete(feed).where(feed.c.id == feed_id))
    return int(pulls)


def pulls(conn: Connection, feed_id: int) -> list[Row[Any]]:
    """A feed's pulls, oldest first."""
    return list(conn.execute(select(feed_pull).where(feed_pull.c.feed_id == feed_id).order_by(feed_pull.c.id)))


def latest_versions(
    conn: Connection, ids: Sequence[str], owner_org_id: int, link_id: int
) -> dict[str, tuple[str | None, str, bytes]]:
    """(created, version, body hash) of the latest version of each of these ids in one copy (owner, link)."""
    c = stix_object.c
    out: dict[str, tuple[str | None, str, bytes]] = {}
    for part in chunks(list(ids)):
        stmt = select(c.id, c.created, c.version, c.body_hash).where(
            id_in(stix_object, part), c.owner_org_id == owner_org_id, c.peer_id == link_id, c.is_latest.is_(True)
        )
        for r in conn.execute(stmt):
            out[r.id] = (r.created, r.version, bytes(r.body_hash))
    return out
