"""All SQL of feeds: feed rows, per-pull statistics, delivered-event marks and first-seen lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, Row, cast, delete, func, insert, literal, or_, select, update

from accord.models.collections import collection
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


def list_feeds(conn: Connection) -> list[Row[Any]]:
    """Every feed with its collection alias and the figures of its latest pull."""
    latest = (
        select(feed_pull.c.feed_id, func.max(feed_pull.c.id).label("pull_id")).group_by(feed_pull.c.feed_id).subquery()
    )
    stmt = (
        select(
            feed,
            collection.c.alias.label("collection_alias"),
            feed_pull.c.stored,
            feed_pull.c.duplicates,
            feed_pull.c.refused,
            feed_pull.c.fetched_bytes,
            feed_pull.c.http_status,
        )
        .join(collection, collection.c.id == feed.c.collection_id, isouter=True)
        .join(latest, latest.c.feed_id == feed.c.id, isouter=True)
        .join(feed_pull, feed_pull.c.id == latest.c.pull_id, isouter=True)
        .order_by(feed.c.name)
    )
    return list(conn.execute(stmt))


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


def pulls(conn: Connection, feed_id: int) -> list[Row[Any]]:
    """A feed's pulls, oldest first."""
    return list(conn.execute(select(feed_pull).where(feed_pull.c.feed_id == feed_id).order_by(feed_pull.c.id)))


def latest_versions(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str | None, str, bytes]]:
    """(created, version, body hash) of the latest stored version of each of these ids."""
    c = stix_object.c
    out: dict[str, tuple[str | None, str, bytes]] = {}
    for part in chunks(list(ids)):
        stmt = select(c.id, c.created, c.version, c.body_hash).where(id_in(stix_object, part), c.is_latest.is_(True))
        for r in conn.execute(stmt):
            out[r.id] = (r.created, r.version, bytes(r.body_hash))
    return out
