"""Policy-filtered reads of stored objects (REST, UI, property tests): every query uses the policy clause."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import Connection, or_, select

from accord.models.objects import id_is, stix_object
from accord.sharing.policy import Principal, preferred_first, visible_versions_clause


def list_latest(
    conn: Connection,
    principal: Principal,
    *,
    types: list[str] | None = None,
    tlps: list[int | None] | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[tuple[int, bytes]]:
    """The newest readable versions, newest first, as (seq, raw) pairs; keyset on seq.

    `tlps` keeps the objects marked with one of these levels (accord.stix.markings.Tlp; None: unmarked).
    """
    o = stix_object.c
    stmt = select(o.seq, o.raw).where(visible_versions_clause(principal, stix_object, latest_only=True))
    if types:
        stmt = stmt.where(o.type.in_(types))
    if tlps:
        levels = [t for t in tlps if t is not None]
        wanted = [o.tlp.in_(levels)] if levels else []
        if None in tlps:
            wanted.append(o.tlp.is_(None))
        stmt = stmt.where(or_(*wanted))
    if before_seq is not None:
        stmt = stmt.where(o.seq < before_seq)
    return [(r.seq, r.raw) for r in conn.execute(stmt.order_by(o.seq.desc()).limit(limit))]


def get_latest(conn: Connection, principal: Principal, stix_id: str) -> dict[str, Any] | None:
    """The newest readable version of one object, or None (unreadable and missing look the same: R7)."""
    row = conn.execute(
        select(stix_object.c.raw)
        .where(id_is(stix_object, stix_id), visible_versions_clause(principal, stix_object, latest_only=False))
        .order_by(*preferred_first(principal))
        .limit(1)
    ).first()
    return orjson.loads(row.raw) if row else None


def list_versions(conn: Connection, principal: Principal, stix_id: str) -> list[str]:
    """The readable versions of one object (of every copy), oldest first."""
    o = stix_object.c
    stmt = (
        select(o.version)
        .where(id_is(stix_object, stix_id), visible_versions_clause(principal, stix_object, latest_only=False))
        .order_by(o.version, o.seq)
    )
    return list(conn.execute(stmt).scalars())


def version_bodies(conn: Connection, principal: Principal, stix_id: str) -> list[tuple[str, bytes]]:
    """The readable versions of one object with their bodies, as (version, raw), oldest first."""
    o = stix_object.c
    stmt = (
        select(o.version, o.raw)
        .where(id_is(stix_object, stix_id), visible_versions_clause(principal, stix_object, latest_only=False))
        .order_by(o.version, o.seq)
    )
    return [(r.version, r.raw) for r in conn.execute(stmt)]


DAY_US = 86_400_000_000


def daily_counts(conn: Connection, principal: Principal, *, since_us: int) -> dict[tuple[int, int, bool], int]:
    """Readable object versions stored since `since_us`, counted per (day since the epoch, owner org id, whether
    it is a sighting): one range scan on seq (the version's date_added), bucketed here.

    Bucketing in Python rather than GROUP BY: SQLite's grouped plan evaluates the policy filter more slowly than
    a plain scan (bench/bench_web.py, dashboard page)."""
    o = stix_object.c
    stmt = select(o.seq, o.owner_org_id, o.type == "sighting").where(
        o.seq >= since_us, visible_versions_clause(principal, stix_object, latest_only=False)
    )
    counts: dict[tuple[int, int, bool], int] = defaultdict(int)
    for seq, owner, sighting in conn.execute(stmt):
        counts[(seq // DAY_US, owner, bool(sighting))] += 1
    return dict(counts)


def readable_keys(conn: Connection, principal: Principal, *, latest_only: bool) -> set[tuple[str, str, int]]:
    """Every readable (id, version, seq) (a version of one copy): what property tests hold read paths to."""
    o = stix_object.c
    stmt = select(o.id, o.version, o.seq).where(
        visible_versions_clause(principal, stix_object, latest_only=latest_only)
    )
    return {(r.id, r.version, r.seq) for r in conn.execute(stmt)}
