"""Policy-filtered reads of stored objects (REST, UI, property tests): every query uses the policy clause."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import Connection, and_, exists, or_, select

from accord.correlate.words import WORD
from accord.models.correlate import value_index
from accord.models.objects import collection_object, id_is, stix_object
from accord.sharing.policy import Principal, preferred_first, visible_versions_clause

WORD_END = "\U0010ffff"  # above every character: [word, word + WORD_END) holds the words it begins


def list_latest(
    conn: Connection,
    principal: Principal,
    *,
    types: list[str] | None = None,
    tlps: list[int | None] | None = None,
    before_seq: int | None = None,
    limit: int = 100,
    words: list[tuple[str, bool]] | None = None,
    collection_ids: list[int] | None = None,
    owner_org_ids: list[int] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[tuple[int, bytes]]:
    """The newest readable versions, newest first, as (seq, raw) pairs; keyset on seq.

    `tlps` keeps the objects marked with one of these levels (accord.stix.markings.Tlp; None: unmarked).
    `words` ((word, is_prefix), all must match) searches names and descriptions (accord.correlate.words);
    `collection_ids` keeps versions in one of these collections, `owner_org_ids` those owned by one of these
    organisations; `since`/`until` bound the version (normalised modified timestamps, inclusive).
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
    for word, prefix in words or ():
        v = value_index.c
        match = and_(v.key >= word, v.key < word + WORD_END) if prefix else v.key == word
        stmt = stmt.where(o.seq.in_(select(v.object_seq).where(v.kind == WORD, match)))
    if collection_ids is not None:
        m = collection_object.c
        stmt = stmt.where(exists().where(m.object_seq == o.seq, m.collection_id.in_(collection_ids)))
    if owner_org_ids is not None:
        stmt = stmt.where(o.owner_org_id.in_(owner_org_ids))
    if since is not None:
        stmt = stmt.where(o.version >= since)
    if until is not None:
        stmt = stmt.where(o.version <= until)
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
