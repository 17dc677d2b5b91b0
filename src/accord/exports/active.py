"""The active values of one kind that the caller may read: what a blocklist and an RPZ zone list, streamed.

The values are the `indicator_value` rows of that kind of the readable latest indicator versions (the sharing
policy is the WHERE of the one query, as for every export), with only the columns the verdict needs. SQL drops
revoked versions and values recorded on the active warninglists; the rest of "active" (decay from the version's
start or its last readable sighting, `valid_until`) is decided per row against `scored.active_for`, the same
verdict as scoring each value (source.indicator_pages), without building an object per value. A store with
versions the table lacks is read through indicator_pages instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, func, null, or_, select

from accord.correlate.warninglists import WarninglistMatcher
from accord.exports import source
from accord.exports.scored import active_for, micros
from accord.exports.source import ExportQuery
from accord.models.correlate import indicator_value, value_index
from accord.models.objects import stix_object
from accord.sharing.policy import Principal

BATCH = 20_000  # rows fetched at a time from the one streamed query


def index_kind(kind: str) -> str:
    """The index kind of the rows of a blocklist kind (lists.BLOCKLIST_KINDS; cidr and ip: ip; md5: hash:md5)."""
    if kind in ("ip", "cidr"):
        return "ip"
    return f"hash:{kind}" if kind in ("md5", "sha1", "sha256", "sha512") else kind


def values(conn: Connection, principal: Principal, query: ExportQuery, wl: WarninglistMatcher) -> Iterator[list[str]]:
    """Batches of the active values on no active warninglist of the one export kind the query asks for (none
    when it asks for several or none), in (version seq, value order), repeats included."""
    if query.kinds is None or len(query.kinds) != 1:
        return
    (kind,) = query.kinds
    if not source.all_indexed(conn):  # versions stored before the table existed and not yet backfilled
        for page in source.indicator_pages(conn, principal, query, wl):
            batch = [v.value for i in page for v in i.values if v.kind == kind and v.active and not v.listed]
            if batch:
                yield batch
        return
    yield from _stored(conn, principal, query, wl, kind)


def _stored(
    conn: Connection, principal: Principal, query: ExportQuery, wl: WarninglistMatcher, kind: str
) -> Iterator[list[str]]:
    ikind, now, fingerprint = index_kind(kind), query.now_us, getattr(wl, "fingerprint", None)
    stmt = _statement(conn, principal, query, kind, fingerprint)
    batches: Iterator[Sequence[Any]]
    if conn.dialect.supports_server_side_cursors:  # e.g. PostgreSQL: a named cursor, BATCH rows a round trip
        result = conn.execute(stmt, execution_options={"stream_results": True, "max_row_buffer": BATCH})
        batches = result.partitions(BATCH)
    else:  # SQLite steps through the rows as they are fetched: the DBAPI cursor's batches, plain tuples
        result = conn.execute(stmt)
        cursor = result.cursor
        batches = iter(lambda: cursor.fetchmany(BATCH), [])
    floors: dict[float, float] = {}  # by base score: the oldest start (µs) a value is still active from
    try:
        for rows in batches:
            batch: list[str] = []
            for value, base, start_us, until_us, by, seen in rows:
                floor = floors.get(base)
                if floor is None:
                    limit = active_for(float(base), ikind, query.min_score)
                    floor = floors[base] = now - limit if limit >= 0 else math.inf
                if seen:  # decay from the later of its start and its last readable sighting
                    sighted = micros(seen)
                    if max(start_us, sighted or 0) < floor:
                        continue
                    if until_us is not None and until_us <= now and (sighted is None or sighted <= until_us):
                        continue  # past valid_until, with no later sighting
                elif start_us < floor or (until_us is not None and until_us <= now):
                    continue  # decayed (or under min_score), never active, or past valid_until
                if (by is None or by != fingerprint) and wl.hits(ikind, value, url_host=False):
                    continue  # matched against other lists when stored: matched again now
                batch.append(value)
            if batch:
                yield batch
    finally:
        result.close()


def _statement(
    conn: Connection, principal: Principal, query: ExportQuery, kind: str, fingerprint: int | None
) -> Select[Any]:
    """(value, base, start_us, until_us, listed_by, last readable sighting) of the value rows of `kind` of the
    readable latest indicator versions that are not revoked and not recorded on the active lists."""
    o, vi = stix_object.c, value_index.c
    h, v = indicator_value.alias("h"), indicator_value.alias("v")
    if conn.execute(select(vi.kind).where(vi.kind == "ref:sighting").limit(1)).first() is None:
        seen: Any = null()  # no sighting stored: none to read per row
    else:
        seen = source.last_sighting(principal)
    where = [v.c.kind == index_kind(kind), h.c.revoked.is_not(True)]
    where += source.selection(principal, query, ("indicator",))
    if fingerprint is not None:  # matched against the active lists when stored, and on one of them
        where.append(or_(v.c.listed.is_(None), h.c.listed_by.is_distinct_from(fingerprint)))
    if kind in ("ip", "cidr"):
        where.append(v.c.value.contains("/") if kind == "cidr" else ~v.c.value.contains("/"))
    if query.since_us is not None:
        where.append(v.c.object_seq >= query.since_us)
    head = (h.c.base, func.coalesce(h.c.start_us, query.now_us), h.c.until_us, h.c.listed_by)  # no start: now
    return (
        select(v.c.value, *head, seen)
        .select_from(
            v.join(stix_object, o.seq == v.c.object_seq).join(h, and_(h.c.object_seq == v.c.object_seq, h.c.ord == 0))
        )
        .where(*where)
        .order_by(v.c.object_seq, v.c.ord)
    )
