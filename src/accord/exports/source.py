"""What every export reads: the caller's readable objects, keyset-paged, with their values, scores and links.

All rows come through the one sharing policy (`visible_versions_clause` for the objects, `readable_clause`
for the sightings and reports that enrich them, exports.links), one page of `PAGE` objects at a time, so an
export streams in constant memory whatever the size of the store.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import Connection, FromClause, and_, bindparam, func, or_, select, tuple_

from accord.core.clock import now_us
from accord.correlate.indicator_values import NAME_CHARS, exported_values, rule_rev
from accord.correlate.indicator_values import export_kind as kind_of
from accord.correlate.scoring import indicator_score, is_indicator
from accord.correlate.values import IndexValue
from accord.correlate.warninglists import WarninglistMatcher
from accord.exports import links
from accord.exports.scored import (
    IV_COLUMNS,
    Indicator,
    Value,
    index_kinds,
    listed_names,
    micros,
    score,
    scored_values,
)
from accord.models.accounts import org
from accord.models.correlate import indicator_value, value_index
from accord.models.objects import collection_object, id_in, node_clock, stix_object
from accord.sharing.policy import Principal, readable_clause, visible_versions_clause
from accord.stix.markings import Tlp

PAGE = 2_000
WARNINGLIST_MODES = ("omit", "mark")
# Object types whose values an export carries: indicators (detection) and the observables that name values.
VALUE_TYPES = (
    "indicator",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "file",
    "artifact",
    "mutex",
    "windows-registry-key",
    "autonomous-system",
    "x509-certificate",
    "vulnerability",
)


@dataclass(frozen=True, slots=True)
class ExportQuery:
    """What the caller asked for: a collection, value kinds, objects added since, a minimum score, ..."""

    collection_id: int | None = None
    kinds: frozenset[str] | None = None  # export kinds (ip, cidr, domain, url, md5, ...); None = all
    since_us: int | None = None  # only objects added at or after (date_added)
    until_us: int | None = None  # and before
    min_score: float | None = None
    warninglists: str = "omit"  # omit | mark
    stix_types: tuple[str, ...] = VALUE_TYPES
    now_us: int = field(default_factory=now_us)


@dataclass(slots=True)
class Item:
    """One readable object version and its exported values."""

    seq: int
    id: str
    type: str
    owner_org_id: int
    tlp: Tlp | None
    obj: dict[str, Any]
    raw: bytes
    values: list[Value] = field(default_factory=list)
    last_sighting_us: int | None = None
    sightings: int = 0
    reports: list[str] = field(default_factory=list)
    indicator: bool = False  # the object asks for detection (not merely records an observation): is_indicator


def export_kind(row: IndexValue) -> str:
    """The kind a blocklist or CSV gives an index row: ip, cidr, domain, url, md5, sha1, sha256, email, ..."""
    return kind_of(row.kind, row.value)


def change_marker(conn: Connection) -> int:
    """The node clock: every stored version, membership and removal advances it (one row, one read)."""
    value = conn.execute(select(node_clock.c.last_us).where(node_clock.c.id == 1)).scalar()
    return int(value or 0)


def org_names(conn: Connection) -> dict[int, str]:
    """Names of the node's organisations (owners of exported objects), by id."""
    return {int(r.id): str(r.name) for r in conn.execute(select(org.c.id, org.c.name))}


def org_identities(conn: Connection) -> dict[int, str]:
    """STIX identity ids of the node's organisations, by id."""
    return {int(r.id): str(r.stix_id) for r in conn.execute(select(org.c.id, org.c.stix_id)) if r.stix_id}


def selection(principal: Principal, query: ExportQuery, types: Sequence[str]) -> list[Any]:
    """A WHERE over stix_object: the latest versions readable by the principal (the sharing policy) of these
    types (all when empty) that the query's collection and date bounds select."""
    o = stix_object.c
    where: list[Any] = []
    scope = None
    if query.collection_id is not None:
        members = select(collection_object.c.object_seq).where(collection_object.c.collection_id == query.collection_id)
        where.append(o.seq.in_(members))

        def scope(newer: FromClause) -> Any:
            return newer.c.seq.in_(members)

    where.insert(0, visible_versions_clause(principal, stix_object, latest_only=True, scope=scope))
    if types:
        where.append(o.type == types[0] if len(types) == 1 else o.type.in_(types))
    if query.until_us is not None:
        where.append(o.seq < query.until_us)
    return where


def readable_rows(conn: Connection, principal: Principal, query: ExportQuery) -> Iterator[list[Any]]:
    """Pages of the latest readable versions (seq, id, type, owner, tlp, raw) the query selects, in seq order."""
    stmt = _readable_page(principal, query)
    last = (query.since_us - 1) if query.since_us is not None else -1
    while True:
        rows = conn.execute(stmt, {"last": last}).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1].seq


def _readable_page(principal: Principal, query: ExportQuery) -> Any:
    """The query of a page of readable_rows after the seq bound `last`."""
    o = stix_object.c
    where = selection(principal, query, query.stix_types)
    cols = (o.seq, o.id, o.type, o.owner_org_id, o.tlp, o.raw)
    return select(*cols).where(o.seq > bindparam("last"), *where).order_by(o.seq).limit(PAGE)


def _raw_rows(conn: Connection, stmt: Any, params: dict[str, Any]) -> Sequence[Any]:
    """The DBAPI rows of a statement: plain tuples, for pages whose rows are unpacked once."""
    result = conn.execute(stmt, params)
    try:
        return result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()


def json_values(item: Item, query: ExportQuery, wl: WarninglistMatcher) -> list[Value]:
    """The exported values of an item computed from its JSON (for objects indicator_value does not hold)."""
    out: list[Value] = []
    for row in exported_values(item.obj):
        kind = export_kind(row)
        if query.kinds is not None and kind not in query.kinds:
            continue
        listed = tuple(wl.hits(row.kind, row.value, url_host=False))
        if listed and query.warninglists == "omit":
            continue
        score, expired = indicator_score(item.obj, row.kind, item.last_sighting_us, query.now_us)
        if query.min_score is not None and score < query.min_score:
            continue
        out.append(Value(kind, row.value, round(score, 1), item.indicator and not expired, listed))
    return out


def enrich(
    conn: Connection,
    principal: Principal,
    rows: Sequence[Any],
    query: ExportQuery,
    wl: WarninglistMatcher,
    *,
    with_reports: bool = False,
    span: tuple[int, int] | None = None,
) -> list[Item]:
    """Items of stored rows with their values, last sightings and (with_reports) the reports naming them.

    `span`: the rows are a page of versions in seq order, from its first seq to its last (iter_pages): what
    enriches them is read by that range, not by a list of their ids.
    """
    items = []
    for seq, oid, otype, owner, tlp, raw in rows:
        obj = orjson.loads(raw)
        items.append(Item(seq, oid, otype, owner, _tlp(tlp), obj, bytes(raw), indicator=is_indicator(obj)))
    sightings = links.last_sightings(conn, principal, [i.id for i in items if i.type == "indicator"], span)
    reports = links.reports(conn, principal, [i.id for i in items], span) if with_reports else {}
    stored = _stored_values(conn, [i.seq for i in items if i.indicator], query.kinds, span)
    for item in items:
        last, count = sightings.get(item.id, (None, 0))
        item.last_sighting_us, item.sightings = last or None, count
        if reports:
            item.reports = reports.get(item.id, [])
        ivs = stored.get(item.seq)
        if ivs is not None:
            item.values = _scored(ivs, item.last_sighting_us, query, wl)
        else:
            item.values = json_values(item, query, wl)
    return items


def _stored_values(
    conn: Connection, seqs: list[int], kinds: frozenset[str] | None, span: tuple[int, int] | None = None
) -> dict[int, list[tuple[Any, ...]]]:
    """The indicator_value rows (IV_COLUMNS, head first) of these versions (already chosen through the policy) that
    have them; with `span` (their seq range), read by range."""
    if not seqs:
        return {}
    iv = indicator_value.c
    where: list[Any] = [iv.object_seq.in_(seqs) if span is None else iv.object_seq.between(*span)]
    if kinds is not None:
        where.append(or_(iv.ord == 0, iv.kind.in_(index_kinds(kinds))))
    rows = _raw_rows(
        conn, select(iv.object_seq, *(iv[c] for c in IV_COLUMNS)).where(*where).order_by(iv.object_seq, iv.ord), {}
    )
    wanted = set(seqs)
    out: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        if row[0] in wanted:
            out.setdefault(row[0], []).append(row[1:])
    return {seq: ivs for seq, ivs in out.items() if ivs[0][0] == 0}


def iter_pages(
    conn: Connection,
    principal: Principal,
    query: ExportQuery,
    wl: WarninglistMatcher,
    *,
    with_reports: bool = False,
) -> Iterator[list[Item]]:
    """Pages of readable objects as items (see enrich)."""
    stmt = _readable_page(principal, query)
    last = (query.since_us - 1) if query.since_us is not None else -1
    while rows := _raw_rows(conn, stmt, {"last": last}):
        last = rows[-1][0]
        yield enrich(conn, principal, rows, query, wl, with_reports=with_reports, span=(rows[0][0], last))


# ------------------------------------------------------------------------------ indicators (active values)


def indicator_pages(
    conn: Connection, principal: Principal, query: ExportQuery, wl: WarninglistMatcher
) -> Iterator[list[Indicator]]:
    """Pages of the caller's readable latest indicator versions with their exported values, in seq order.

    Reads the `indicator_value` rows (accord.correlate.indicator_values) of the readable indicators
    (`visible_versions_clause`), not their JSON; a version without rows there is parsed instead. The values,
    scores and activity are those `iter_pages` gives the same indicators.
    """
    # A generator: the counts run when the export starts streaming, under its bounded page cache
    # (service.stream), not at the call with the node's own (bench_exports' peak RSS at 1M objects).
    if all_indexed(conn):
        yield from _value_pages(conn, principal, query, wl)
    else:
        yield from _object_pages(conn, principal, query, wl)


def all_indexed(conn: Connection) -> bool:
    """Whether every stored indicator version has its head row in indicator_value (two index counts).

    Heads are written only for stored indicator versions, which are never deleted: equal counts mean one each.
    """
    o, iv = stix_object.c, indicator_value.c
    indicators = select(func.count()).select_from(stix_object).where(o.type == "indicator").scalar_subquery()
    heads = select(func.count()).select_from(indicator_value).where(iv.kind.is_(None)).scalar_subquery()
    return bool(conn.execute(select(indicators == heads)).scalar())


def _value_pages(
    conn: Connection, principal: Principal, query: ExportQuery, wl: WarninglistMatcher
) -> Iterator[list[Indicator]]:
    """indicator_pages when every version is indexed: the value rows (of the kinds asked for, each kind read
    through its index) of readable versions, with their head and their last readable sighting, in one query."""
    iv = indicator_value.c
    if query.kinds is None:
        streams = [_value_rows(conn, principal, query, None)]
    else:  # each kind's rows are in seq order in the kind index; kinds no row has cost one probe
        present = [
            kind
            for kind in index_kinds(query.kinds)
            if conn.execute(select(iv.ord).where(iv.kind == kind).limit(1)).first() is not None
        ]
        streams = [_value_rows(conn, principal, query, kind) for kind in present]
    rows: Iterator[tuple[Any, ...]] = streams[0] if len(streams) == 1 else heapq.merge(*streams)
    kinds, omit, min_score, now = query.kinds, query.warninglists == "omit", query.min_score, query.now_us
    fingerprint = getattr(wl, "fingerprint", None)
    page: list[Indicator] = []
    current: Indicator | None = None
    size = 0
    for seq, _ord, oid, kind, value, listed, base, start_us, until_us, revoked, rev, name, by, seen in rows:
        if current is None or current.seq != seq:
            if size >= PAGE:
                yield page
                page, size = [], 0
            current = Indicator(seq, oid, name or oid, int(rev))
            page.append(current)
        xk = kind_of(kind, value)
        if kinds is not None and xk not in kinds:
            continue
        size += 1
        names = listed_names(kind, value, listed, by is not None and by == fingerprint, wl)
        if names and omit:
            continue
        sc, expired = score(float(base), start_us, until_us, bool(revoked), kind, micros(seen), now)
        if min_score is not None and sc < min_score:
            continue
        current.values.append(Value(xk, value, round(sc, 1), not expired, names))
    if page:
        yield page


def last_sighting(principal: Principal) -> Any:
    """The newest last-seen time of the readable sightings of the indicator stix_object's row holds (a scalar
    subquery, correlated with stix_object)."""
    vi, s = value_index.c, stix_object.alias("s")
    return (
        select(func.max(vi.lo))
        .select_from(value_index.join(s, s.c.seq == vi.object_seq))
        .where(
            vi.kind == "ref:sighting",
            vi.key == stix_object.c.id,
            s.c.is_latest.is_(True),
            readable_clause(principal, s),
        )
        .scalar_subquery()
    )


def _value_rows(
    conn: Connection, principal: Principal, query: ExportQuery, kind: str | None
) -> Iterator[tuple[Any, ...]]:
    """(seq, ord, id, kind, value, listed, head facts..., listed_by, last sighting) of the value rows of one
    index kind (None: every kind) of the readable versions, in (seq, ord) order, read page by page."""
    o = stix_object.c
    h, v = indicator_value.alias("h"), indicator_value.alias("v")
    seen = last_sighting(principal)
    head = (h.c.base, h.c.start_us, h.c.until_us, h.c.revoked, h.c.rev, h.c.name, h.c.listed_by)
    after = tuple_(v.c.object_seq, v.c.ord) > tuple_(bindparam("last_seq"), bindparam("last_ord"))
    stmt = (
        select(v.c.object_seq, v.c.ord, o.id, v.c.kind, v.c.value, v.c.listed, *head, seen)
        .select_from(
            v.join(stix_object, o.seq == v.c.object_seq).join(h, and_(h.c.object_seq == v.c.object_seq, h.c.ord == 0))
        )
        .where(v.c.ord > 0 if kind is None else v.c.kind == kind, after, *selection(principal, query, ("indicator",)))
        .order_by(v.c.object_seq, v.c.ord)
        .limit(PAGE)
    )
    last_seq, last_ord = ((query.since_us - 1) if query.since_us is not None else -1), 0
    while True:
        rows = _raw_rows(conn, stmt, {"last_seq": last_seq, "last_ord": last_ord})
        yield from rows
        if len(rows) < PAGE:
            return
        last_seq, last_ord = rows[-1][0], rows[-1][1]


def _object_pages(
    conn: Connection, principal: Principal, query: ExportQuery, wl: WarninglistMatcher
) -> Iterator[list[Indicator]]:
    """indicator_pages when some version has no rows in indicator_value: the items of the readable indicator
    versions (iter_pages: each version's rows read with it, the JSON of those without parsed)."""
    for items in iter_pages(conn, principal, replace(query, stix_types=("indicator",)), wl):
        yield [_indicator(item) for item in items if item.indicator]


def _indicator(item: Item) -> Indicator:
    """An indicator item as the exports of active values see it; its name and rev as the store records them."""
    name = item.obj.get("name")
    return Indicator(item.seq, item.id, str(name)[:NAME_CHARS] if name else item.id, rule_rev(item.obj), item.values)


def _scored(
    ivs: list[tuple[Any, ...]], last_sighting_us: int | None, query: ExportQuery, wl: WarninglistMatcher
) -> list[Value]:
    omit = query.warninglists == "omit"
    return scored_values(ivs, last_sighting_us, query.kinds, omit, query.min_score, query.now_us, wl)


_TLPS = {int(level): level for level in Tlp}


def _tlp(value: Any) -> Tlp | None:
    return None if value is None else _TLPS[int(value)]


def objects_by_id(conn: Connection, principal: Principal, ids: list[str]) -> list[Any]:
    """The latest readable versions of these ids (seq, id, type, owner, tlp, raw), in seq order."""
    o = stix_object.c
    out: list[Any] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        out += conn.execute(
            select(o.seq, o.id, o.type, o.owner_org_id, o.tlp, o.raw).where(
                id_in(stix_object, part), visible_versions_clause(principal, stix_object, latest_only=True)
            )
        ).all()
    return sorted(out, key=lambda r: r.seq)


DAY_US = 86_400_000_000


def days(conn: Connection, principal: Principal, query: ExportQuery) -> list[tuple[int, int, int]]:
    """(day number, newest seq, objects) of each date_added day holding objects the query selects."""
    o = stix_object.c
    where = selection(principal, query, query.stix_types)
    day = (o.seq // DAY_US).label("day")
    rows = conn.execute(select(day, func.max(o.seq), func.count()).where(*where).group_by(day).order_by(day)).all()
    return [(int(d), int(m), int(c)) for d, m, c in rows]
