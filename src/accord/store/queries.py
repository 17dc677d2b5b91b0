"""Policy-filtered reads of stored objects (REST, UI, property tests): every query uses the policy clause."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, and_, exists, func, or_, select
from sqlalchemy.sql.expression import FromClause

from accord.core.sql import OrderedJoin
from accord.correlate.words import WORD
from accord.models.correlate import value_index
from accord.models.objects import collection_object, daily_count, id_is, stix_object
from accord.sharing.policy import (
    ObjectFacts,
    Principal,
    can_read,
    preferred_first,
    readable_clause,
    visible_versions_clause,
)
from accord.stix.markings import Tlp
from accord.store import daily

WORD_END = "\U0010ffff"  # above every character: [word, word + WORD_END) holds the words it begins


def list_latest(
    conn: Connection,
    principal: Principal,
    *,
    types: list[str] | None = None,
    tlps: list[int | None] | None = None,
    before_seq: int | None = None,
    from_seq: int | None = None,
    limit: int = 100,
    words: list[tuple[str, bool]] | None = None,
    collection_ids: list[int] | None = None,
    owner_org_ids: list[int] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[tuple[int, bytes]]:
    """The newest readable versions, newest first, as (seq, raw) pairs; keyset on seq (below `before_seq`, down to
    `from_seq` inclusive).

    `tlps` keeps the objects marked with one of these levels (accord.stix.markings.Tlp; None: unmarked).
    `words` ((word, is_prefix), all must match) searches names and descriptions (accord.correlate.words); the
    first whole word, if any, drives the query (see word_window); `collection_ids` keeps versions in one of these
    collections, `owner_org_ids` those owned by one of these organisations; `since`/`until` bound the version
    (normalised modified timestamps, inclusive).
    """
    o = stix_object.c
    whole = [word for word, prefix in words or () if not prefix]
    source: FromClause = stix_object
    order = o.seq
    if whole:
        # The driving word's index rows, newest first, each joined to its version and asked the policy: the
        # query stops at the page's end instead of reading every id holding the word first (a word most objects
        # hold: bench/bench_web_paired.py, word search).
        drive = value_index.alias("drive")
        source = OrderedJoin(drive, stix_object, o.seq == drive.c.object_seq)
        order = drive.c.object_seq
    stmt = (
        select(o.seq, o.raw)
        .select_from(source)
        .where(visible_versions_clause(principal, stix_object, latest_only=True))
    )
    if whole:
        stmt = stmt.where(drive.c.kind == WORD, drive.c.key == whole[0])
    if types:
        # With prefix words only, SQLite would drive the query from the type index: every object of the type
        # holding the word, read through the policy and then sorted; `type || ''` keeps it on the word's objects,
        # newest first, stopping at the page's end (bench/bench_search.py, word + type). PostgreSQL plans this
        # well as it is, and worse without its index.
        off_index = words and not whole and conn.dialect.name == "sqlite"
        stmt = stmt.where((o.type.concat("") if off_index else o.type).in_(types))
    if tlps:
        levels = [t for t in tlps if t is not None]
        wanted = [o.tlp.in_(levels)] if levels else []
        if None in tlps:
            wanted.append(o.tlp.is_(None))
        stmt = stmt.where(or_(*wanted))
    v = value_index.c
    for word in whole[1:]:  # one index seek per row
        stmt = stmt.where(exists().where(v.kind == WORD, v.key == word, v.object_seq == o.seq))
    for word, prefix in words or ():
        if prefix:
            match = and_(v.key >= word, v.key < word + WORD_END)
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
        stmt = stmt.where(order < before_seq)
    if from_seq is not None:
        stmt = stmt.where(order >= from_seq)
    return [(r.seq, r.raw) for r in conn.execute(stmt.order_by(order.desc()).limit(limit))]


def word_window(conn: Connection, word: str, *, before_seq: int | None, size: int) -> int | None:
    """The seq of the `size`-th newest object version holding search word `word` below `before_seq`: the lower
    end of a window of that many of its index rows (None when fewer remain). A read of the index only."""
    v = value_index.c
    stmt = select(v.object_seq).where(v.kind == WORD, v.key == word)
    if before_seq is not None:
        stmt = stmt.where(v.object_seq < before_seq)
    found = conn.execute(stmt.order_by(v.object_seq.desc()).offset(size - 1).limit(1)).scalar()
    return None if found is None else int(found)


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


DAY_US = daily.DAY_US


def _readable_classes(
    conn: Connection, principal: Principal, first_day: int
) -> Iterator[tuple[int, int, int, tuple[tuple[int, bool], ...], int]]:
    """The daily_count rows since `first_day` (identities aside) whose facts the policy admits for this reader, as
    (day, owner org id, kind, memberships, count)."""
    d = daily_count.c
    stmt = select(d.day, d.owner_org_id, d.peer_id, d.tlp, d.kind, d.members, d.n).where(
        d.day >= first_day, d.n != 0, d.kind != int(daily.Kind.IDENTITY)
    )
    decided: dict[tuple[int, int, int, int, str], bool] = {}
    for day, owner, peer_id, tlp, kind, members, n in conn.execute(stmt):
        facts = (owner, peer_id, tlp, kind, members)
        readable = decided.get(facts)
        if readable is None:
            readable = decided[facts] = can_read(principal, _class_facts(*facts))
        if readable:
            yield day, owner, kind, daily.parse_members(members), n


def daily_counts(conn: Connection, principal: Principal, *, since_us: int) -> dict[tuple[int, int, bool], int]:
    """Readable object versions stored since `since_us` (a day's start), counted per (day since the epoch, owner
    org id, whether it is a sighting).

    From daily_count (accord.store.daily), which the write path keeps: each row holds the versions of one day
    that share every fact the policy decides on but the id, so can_read on those facts decides for all of them
    at once. Identity objects are the exception (R6 asks whether each is an organisation's): they are few and
    counted one by one through the SQL face (daily_counts_scan)."""
    first_day = since_us // DAY_US
    counts: dict[tuple[int, int, bool], int] = defaultdict(int)
    for day, owner, kind, _members, n in _readable_classes(conn, principal, first_day):
        counts[(day, owner, kind == daily.Kind.SIGHTING)] += n
    for key, n in daily_counts_scan(conn, principal, since_us=first_day * DAY_US, types=["identity"]).items():
        counts[key] += n
    return dict(counts)


def collection_counts(conn: Connection, principal: Principal, *, since_us: int) -> dict[int, int]:
    """Readable object versions stored since `since_us` (a day's start) per collection the reader may read that
    holds them (a version in two such collections counts in both), as daily_counts does."""
    first_day = since_us // DAY_US
    shown = None if principal.is_admin else principal.readable_collections
    counts: dict[int, int] = defaultdict(int)
    for _day, _owner, _kind, members, n in _readable_classes(conn, principal, first_day):
        for cid, _by_owner in members:
            if shown is None or cid in shown:
                counts[cid] += n
    member = collection_object.alias("counted_in")
    o, m = stix_object.c, member.c
    identities = (
        select(m.collection_id, func.count())
        .select_from(stix_object.join(member, m.object_seq == o.seq))
        .where(o.type == "identity", o.seq >= first_day * DAY_US, readable_clause(principal, stix_object))
        .group_by(m.collection_id)
    )
    for cid, n in conn.execute(identities):
        if shown is None or cid in shown:
            counts[cid] += n
    return dict(counts)


def _class_facts(owner: int, peer_id: int, tlp: int, kind: int, members: str) -> ObjectFacts:
    """What the policy knows of every version counted in one daily_count row (identities aside)."""
    return ObjectFacts(
        stix_id="",
        type={daily.Kind.SIGHTING: "sighting", daily.Kind.MARKING: "marking-definition"}.get(daily.Kind(kind), ""),
        owner_org_id=owner,
        tlp=None if tlp < 0 else Tlp(tlp),
        peer_id=peer_id or None,
        memberships=tuple((cid, owner if by_owner else -1) for cid, by_owner in daily.parse_members(members)),
    )


def daily_counts_scan(
    conn: Connection, principal: Principal, *, since_us: int, types: list[str] | None = None
) -> dict[tuple[int, int, bool], int]:
    """daily_counts by reading every readable version stored since `since_us` (of these types) through the SQL
    face: one range scan on seq (the version's date_added), bucketed here."""
    o = stix_object.c
    stmt = select(o.seq, o.owner_org_id, o.type == "sighting").where(
        o.seq >= since_us, visible_versions_clause(principal, stix_object, latest_only=False)
    )
    if types:
        stmt = stmt.where(o.type.in_(types))
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
