"""All SQL of correlation and lookup. Every query that reveals an object filters it through the sharing policy.

Batches travel as one JSON parameter (json_each on SQLite, json_array_elements on PostgreSQL), so each stage
of a lookup is one statement whatever the number of values, and no IN list hits a bound-parameter limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    Integer,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.util.typing import TupleAny

from accord.core.sql import OrderedJoin as _Ordered
from accord.correlate.indexer import CIDR_MARK
from accord.models.accounts import org
from accord.models.correlate import value_index
from accord.models.objects import id_is, same_copy, stix_object
from accord.sharing.policy import Principal, preferred_first, readable_clause, visible_versions_clause
from accord.stix.ids import id_key

# Probe modes: exact key, CIDR containing an address or CIDR (lo/hi equality), addresses or CIDRs inside a
# CIDR (lo range), a domain and its subdomains (key range; the domain's own rows answer as exact).
EXACT, CONTAINS, INSIDE, CHILDREN = "e", "c", "r", "d"
MODES = (EXACT, CONTAINS, INSIDE, CHILDREN)
_NO_LIMIT = 2**31 - 1  # "no limit" as a bound INTEGER
_PLACEHOLDERS: dict[str, Any] = {f"probes_{m}": "[]" for m in MODES} | {"limit": 0}  # runtime parameters
LINK_KINDS = ("ref:report", "ref:relationship", "ref:sighting")


class Probe(NamedTuple):
    """One index probe for the value numbered `tag`: mode, kind, and the key (or bounds a..b)."""

    tag: int
    mode: str
    kind: str
    a: str
    b: str = ""


ProbeRow = tuple[int, str, str, str, str]  # a Probe, or the same as a plain tuple (tag, mode, kind, a, b)


class Match(NamedTuple):
    """An index row that answered a probe, on the latest readable version of its object."""

    tag: int
    mode: str
    kind: str
    key: str
    value: str | None
    seq: int
    id: str
    type: str
    owner: str
    sole: bool  # the only copy of its id


def _json_table(dialect: str, name: str, columns: Sequence[str]) -> Subquery:
    """Rows of the JSON array parameter `name` (arrays, or scalars when one column) as a subquery."""
    pg = dialect == "postgresql"
    source = f"json_array_elements(CAST(:{name} AS json)) AS value" if pg else f"json_each(:{name})"
    if len(columns) == 1:
        exprs = ["value #>> '{}'" if pg else "value"]
    else:
        exprs = [f"value ->> {i}" for i in range(len(columns))]
    cols = [
        f"CAST({e} AS BIGINT) AS v{i}" if spec == "int" else f"{e} AS v{i}"
        for i, (e, spec) in enumerate(zip(exprs, columns, strict=True))
    ]
    clause = text(f"SELECT {', '.join(cols)} FROM {source}")
    typed = clause.columns(*(column(f"v{i}", Integer if c == "int" else String) for i, c in enumerate(columns)))
    return typed.subquery(name)


def _visible(principal: Principal) -> Any:
    return visible_versions_clause(principal, stix_object, latest_only=True)


def cidr_lengths(conn: Connection) -> dict[str, list[int]]:
    """Prefix lengths of the CIDRs in the index, per family ('4', '6'); index metadata, reveals no object."""
    v = value_index.c
    found: dict[str, list[int]] = {"4": [], "6": []}
    for key in conn.execute(select(v.key).where(v.kind == CIDR_MARK)).scalars():
        family, _, plen = key.partition("/")
        found.setdefault(family, []).append(int(plen))
    return found


def _probe_table(dialect: str, mode: str) -> Subquery:
    # Each mode has its own JSON parameter: SQLite re-reads a JSON element per extracted field, so one
    # shared array scanned by every part would cost four full passes over the batch.
    return _json_table(dialect, f"probes_{mode}", ("str", "str", "str", "int"))  # kind, a, b, tag


def _probe_on(mode: str, kind: Any, a: Any, b: Any, index: FromClause = value_index) -> Any:
    v = index.c
    # The kind comes from the probe, never a constant: a constant would let SQLite scan the index by
    # kind in the outer loop; with it, the probes drive and each one is a single index seek or range.
    if mode == EXACT:
        return and_(v.kind == kind, v.key == a)
    if mode == CONTAINS:
        # lo is written as a one-point range: only then does SQLite see the partial index (lo IS NOT NULL) apply.
        return and_(v.kind == kind, v.lo >= a, v.lo <= a, v.hi == b)
    if mode == INSIDE:
        return and_(v.kind == kind, v.lo >= a, v.lo <= b)
    return and_(v.kind == kind, v.key >= a, v.key < b)


def _mode_of(mode: str, a: Any, index: FromClause = value_index) -> Any:
    # A CHILDREN probe's range starts at the domain itself: one range seek answers both the domain (an
    # exact match) and its subdomains.
    if mode == CHILDREN:
        return case((index.c.key == a, literal(EXACT)), else_=literal(CHILDREN))
    return literal(mode)


def _probe_parts(dialect: str, principal: Principal, modes: tuple[str, ...], columns: Any) -> list[Any]:
    """One SELECT per probe mode present: (probe, index row, latest readable version), through `columns`."""
    parts = []
    for m in modes:
        p = _probe_table(dialect, m)
        joined = _Ordered(
            _Ordered(p, value_index, _probe_on(m, p.c.v0, p.c.v1, p.c.v2)),
            stix_object,
            stix_object.c.seq == value_index.c.object_seq,
        )
        where = [value_index.c.correlating.is_(True), _visible(principal)]
        parts.append(columns(_mode_of(m, p.c.v1), p.c.v3, joined, where))
    return parts


# Statements are built once per (dialect, principal, probe modes present) and reused: building the
# policy-filtered union costs more than running it for one value. Batches are bound at execution time.
@lru_cache(maxsize=512)
def _probe_stmt(dialect: str, principal: Principal, modes: tuple[str, ...]) -> Any:
    v, o = value_index.c, stix_object.c

    def part(mode: Any, tag: Any, joined: Any, where: list[Any]) -> Any:
        cols = (tag, mode.label("mode"), v.kind, v.key, v.value, o.seq, o.id, o.type, org.c.name, o.sole_copy)
        return select(*cols).select_from(joined.join(org, org.c.id == o.owner_org_id)).where(*where)

    return union_all(*_probe_parts(dialect, principal, modes, part))


@lru_cache(maxsize=512)
def _capped_stmt(dialect: str, principal: Principal, modes: tuple[str, ...]) -> Any:
    v, o = value_index.c, stix_object.c
    cap = bindparam("limit", type_=Integer)
    pg = dialect == "postgresql"
    parts = []
    for m in modes:
        p = _probe_table(dialect, m)
        # Per probe, at most `limit` rows of the policy-joined index: the probe drives a correlated subquery
        # whose LIMIT stops reading (and asking the policy about) a widespread value's rows at the cap.
        joined = _Ordered(value_index, stix_object, o.seq == v.object_seq).join(org, org.c.id == o.owner_org_id)
        rows = (
            select(_mode_of(m, p.c.v1).label("mode"), v.kind, v.key, v.value, o.seq, o.id, o.type)
            .add_columns(org.c.name.label("owner"), o.sole_copy)
            .select_from(joined)
            .where(_probe_on(m, p.c.v0, p.c.v1, p.c.v2), v.correlating.is_(True), _visible(principal))
            .limit(cap)
            .correlate(p)
            .subquery(f"capped_{m}")
        )
        r = rows.c
        fields = (r.mode, r.kind, r.key, r.value, r.seq, r.id, r.type, r.owner, r.sole_copy)
        if pg:
            packed = func.json_agg(func.json_build_array(*fields))
        else:
            packed = func.json_group_array(func.json_array(*fields))
        parts.append(select(p.c.v3, select(packed).scalar_subquery()).select_from(p))
    return union_all(*parts)


def _probe_params(probes: Sequence[ProbeRow]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The probe modes present, and one JSON array of probes per mode."""
    by_mode: dict[str, list[tuple[str, str, str, int]]] = {}
    for tag, mode, kind, a, b in probes:
        got = by_mode.get(mode)
        if got is None:
            got = by_mode[mode] = []
        got.append((kind, a, b, tag))
    for rows in by_mode.values():
        rows.sort()  # key order: consecutive seeks land on neighbouring index pages
    modes = tuple(m for m in MODES if m in by_mode)
    return modes, {f"probes_{m}": orjson.dumps(by_mode[m]).decode() for m in modes}


class _Rendered(NamedTuple):
    """A statement rendered for one principal: its SQL, its positional parameter order, its fixed values."""

    sql: str
    order: Sequence[str] | None  # None for named parameter styles
    fixed: dict[str, Any]


@lru_cache(maxsize=512)
def _render(dialect: Dialect, build: Callable[..., Any], principal: Principal, modes: tuple[str, ...]) -> _Rendered:
    # The principal's collections and peers are constants of its statements: their IN lists are expanded
    # once here rather than at every execution (a large part of a one-value lookup: bench/bench_correlate.py,
    # latency). Values go
    # to the driver as they are: these statements bind only integers and strings, which need no processing.
    state = build(dialect.name, principal, modes).compile(dialect=dialect).construct_expanded_state(_PLACEHOLDERS)
    return _Rendered(state.statement, state.positiontup, dict(state.parameters))


def _execute(
    conn: Connection, build: Callable[..., Any], principal: Principal, modes: tuple[str, ...], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows as the driver's tuples, fetched in one call (these statements return thousands of rows)."""
    rendered = _render(conn.dialect, build, principal, modes)
    values = rendered.fixed | params
    if rendered.order is None:
        result: CursorResult[*TupleAny] = conn.exec_driver_sql(rendered.sql, values)
    else:
        result = conn.exec_driver_sql(rendered.sql, tuple(values[name] for name in rendered.order))
    with result:
        return list(result.cursor.fetchall())


def probe(conn: Connection, principal: Principal, probes: Sequence[Probe]) -> list[Match]:
    """Readable objects (latest readable versions) whose correlating index rows answer the probes."""
    if not probes:
        return []
    modes, params = _probe_params(probes)
    return [
        Match(tag, mode, kind, key, value, seq, oid, otype, owner, bool(sole))
        for tag, mode, kind, key, value, seq, oid, otype, owner, sole in _execute(
            conn, _probe_stmt, principal, modes, params
        )
    ]


def probe_capped(
    conn: Connection, principal: Principal, probes: Sequence[Probe], cap: int
) -> tuple[list[Match], set[int]]:
    """probe(), reading at most cap + 1 answering rows per probe; and the tags of the probes with more than
    `cap` (their answers are cut short)."""
    if not probes:
        return [], set()
    modes, params = _probe_params([(n, p.mode, p.kind, p.a, p.b) for n, p in enumerate(probes)])
    params["limit"] = cap + 1
    found: list[Match] = []
    cut: set[int] = set()
    for n, packed in _execute(conn, _capped_stmt, principal, modes, params):
        rows = orjson.loads(packed) if isinstance(packed, str | bytes) else packed
        if not rows:
            continue
        tag = probes[n].tag
        if len(rows) > cap:
            cut.add(tag)
        found.extend(
            Match(tag, mode, kind, key, value, seq, oid, otype, owner, bool(sole))
            for mode, kind, key, value, seq, oid, otype, owner, sole in rows
        )
    return found, cut


class Answer(NamedTuple):
    """A readable answer to a probe: the index row and the latest readable version (with its body)."""

    probe: int
    mode: str
    kind: str
    key: str
    value: str | None
    seq: int
    id: str
    type: str
    owner: str
    raw: bytes
    only_version: bool  # the object's only version: its first and last seen are this version's date_added
    sole: bool  # the only copy of its id (else holders() tells who else holds it)


@lru_cache(maxsize=512)
def _answers_stmt(dialect: str, principal: Principal, modes: tuple[str, ...]) -> Any:
    v, o = value_index.c, stix_object.c
    limit = bindparam("limit", type_=Integer)
    # Whether the object has other versions: an unversioned object has one, and a version whose modified
    # equals its created is the first (the store refuses older versions next to it); others take an
    # index-only look-up. Only objects with several are asked for their first and last readable versions (a
    # separate, rarer statement). CASE, not AND/OR: SQLite evaluates every operand of AND/OR in a result
    # column, CASE stops at the first that decides.
    older = stix_object.alias("older")
    has_older = exists().where(same_copy(older, stix_object), older.c.version < o.version)
    only = case(
        (o.is_latest.is_not(True), literal(False)),
        (or_(o.version == "", o.version == o.created), literal(True)),
        else_=~has_older,
    )
    parts = []
    for m in modes:
        p = _probe_table(dialect, m)
        # Each probe first counts its index rows, readable or not (an index-only count): a probe above the
        # limit reads no object at all, so a widespread value never pays the policy for each of its rows.
        counter = value_index.alias(f"count_{m}")
        n = select(func.count()).where(_probe_on(m, p.c.v0, p.c.v1, p.c.v2, counter), counter.c.correlating.is_(True))
        sized = select(p, n.scalar_subquery().label("n")).cte(f"sized_{m}")
        q = sized.c
        rows = _Ordered(sized, value_index, _probe_on(m, q.v0, q.v1, q.v2))
        joined = _Ordered(rows, stix_object, o.seq == v.object_seq).join(org, org.c.id == o.owner_org_id)
        parts.append(
            select(q.v3.label("probe"), _mode_of(m, q.v1).label("mode"), v.kind, v.key, v.value, o.seq, o.id, o.type)
            .add_columns(org.c.name, o.raw, only.label("only_version"), o.sole_copy, q.n.label("rows"))
            .select_from(joined)
            .where(q.n > 0, q.n <= limit, v.correlating.is_(True), _visible(principal))
        )
        # A probe above the limit comes back as one row with no object (seq NULL) and its count of index rows.
        parts.append(select(q.v3.label("probe"), *[null()] * 11, q.n).where(q.n > limit))
    return union_all(*parts)


def answers(
    conn: Connection, principal: Principal, probes: Sequence[ProbeRow], limit: int | None
) -> tuple[list[Answer], dict[int, int]]:
    """Readable answers to the probes with at most `limit` index rows (None: all); the others' index rows."""
    if not probes:
        return [], {}
    modes, params = _probe_params(probes)
    params["limit"] = _NO_LIMIT if limit is None else limit
    found: list[Answer] = []
    above: dict[int, int] = {}
    for probe, mode, kind, key, value, seq, oid, otype, owner, raw, only, sole, rows in _execute(
        conn, _answers_stmt, principal, modes, params
    ):
        if seq is None:
            above[probe] = rows
        else:
            found.append(Answer(probe, mode, kind, key, value, seq, oid, otype, owner, raw, bool(only), bool(sole)))
    return found, above


class Details(NamedTuple):
    """The body of a latest readable version and the date_added of the object's first and last readable ones."""

    raw: bytes
    first_seq: int
    last_seq: int


@lru_cache(maxsize=512)
def _details_stmt(dialect: str, principal: Principal) -> Any:
    o = stix_object.c
    wanted = _json_table(dialect, "seqs", ("int",))
    latest = stix_object.alias("l")
    ids = select(latest.c.id).select_from(_Ordered(wanted, latest, latest.c.seq == wanted.c.v0))
    keys = select(latest.c.id_key).select_from(_Ordered(wanted, latest, latest.c.seq == wanted.c.v0))
    # First and last seen are those of the answering version's copy (its owner's and link's versions).
    agg = (
        select(o.id, o.id_key, o.owner_org_id, o.peer_id, func.min(o.seq).label("first"), func.max(o.seq).label("last"))
        .where(o.id_key.in_(keys), o.id.in_(ids), readable_clause(principal, stix_object))
        .group_by(o.id, o.id_key, o.owner_org_id, o.peer_id)
        .subquery("agg")
    )
    joined = _Ordered(wanted, latest, latest.c.seq == wanted.c.v0).join(agg, same_copy(agg, latest))
    return select(latest.c.seq, latest.c.raw, agg.c.first, agg.c.last).select_from(joined)


def details(conn: Connection, principal: Principal, seqs: Sequence[int]) -> dict[int, Details]:
    """Bodies and first/last readable seq of the objects of these (already policy-checked) versions."""
    if not seqs:
        return {}
    stmt = _details_stmt(conn.dialect.name, principal)
    rows = conn.execute(stmt, {"seqs": orjson.dumps(list(seqs)).decode()})
    return {r.seq: Details(r.raw, r.first, r.last) for r in rows}


@lru_cache(maxsize=512)
def _holders_stmt(dialect: str, principal: Principal) -> Any:
    wanted = _json_table(dialect, "ids", ("str", "int"))  # id, id_key
    o = stix_object.c
    return (
        select(o.id, org.c.name, func.min(o.seq).label("since"))
        .select_from(
            _Ordered(wanted, stix_object, and_(o.id_key == wanted.c.v1, o.id == wanted.c.v0)).join(
                org, org.c.id == o.owner_org_id
            )
        )
        .where(readable_clause(principal, stix_object))
        .group_by(o.id, org.c.name)
    )


def holders(conn: Connection, principal: Principal, ids: Sequence[str]) -> dict[str, list[str]]:
    """The organisations holding a copy of each id that the caller may read, first holder first."""
    if not ids:
        return {}
    stmt = _holders_stmt(conn.dialect.name, principal)
    wanted = [[i, id_key(i)] for i in sorted(set(ids))]
    found: dict[str, list[tuple[int, str]]] = {}
    for oid, name, since in conn.execute(stmt, {"ids": orjson.dumps(wanted).decode()}):
        found.setdefault(oid, []).append((since, name))
    return {oid: [name for _, name in sorted(got)] for oid, got in found.items()}


class Link(NamedTuple):
    """A readable report, relationship or sighting that refers to `ref` (through an index link row)."""

    kind: str
    ref: str
    other: str | None  # the relationship's other end
    seen: str | None  # a sighting's last seen
    times: str | None  # a sighting's count (STIX `count`)
    seq: int
    id: str
    type: str
    raw: bytes | None  # reports only (for the name)


@lru_cache(maxsize=512)
def _links_stmt(dialect: str, principal: Principal) -> Any:
    wanted = _json_table(dialect, "ids", ("str",))
    v, o = value_index.c, stix_object.c
    joined = _Ordered(
        _Ordered(wanted, value_index, and_(v.kind.in_(LINK_KINDS), v.key == wanted.c.v0)),
        stix_object,
        o.seq == v.object_seq,
    )
    return (
        select(v.kind, v.key, v.value, v.lo, v.hi, o.seq, o.id, o.type, o.raw)
        .select_from(joined)
        .where(_visible(principal))
    )


def links(conn: Connection, principal: Principal, ids: Sequence[str]) -> list[Link]:
    """Readable reports, relationships and sightings (latest readable versions) that refer to these ids."""
    if not ids:
        return []
    stmt = _links_stmt(conn.dialect.name, principal)
    rows = conn.execute(stmt, {"ids": orjson.dumps(sorted(set(ids))).decode()})
    return [
        Link(r.kind, r.key, r.value, r.lo, r.hi, r.seq, r.id, r.type, r.raw if r.type == "report" else None)
        for r in rows
    ]


@lru_cache(maxsize=512)
def _latest_stmt(dialect: str, principal: Principal, types: tuple[str, ...] | None) -> Any:
    wanted = _json_table(dialect, "ids", ("str", "int"))  # id, id_key
    o = stix_object.c
    stmt = (
        select(o.seq, o.id, o.type, o.raw)
        .select_from(_Ordered(wanted, stix_object, and_(o.id_key == wanted.c.v1, o.id == wanted.c.v0)))
        .where(_visible(principal))
    )
    return stmt if types is None else stmt.where(o.type.in_(types))


def latest_objects(
    conn: Connection, principal: Principal, ids: Sequence[str], types: Sequence[str] | None = None
) -> list[Any]:
    """Latest readable versions (seq, id, type, raw) of these ids, optionally restricted to some types."""
    if not ids:
        return []
    stmt = _latest_stmt(conn.dialect.name, principal, None if types is None else tuple(types))
    wanted = [[i, id_key(i)] for i in sorted(set(ids))]
    return list(conn.execute(stmt, {"ids": orjson.dumps(wanted).decode()}))


def latest_readable(conn: Connection, principal: Principal, stix_id: str) -> Any | None:
    """The latest readable version (seq, id, type, raw) of one object, or None (R7); of the caller's own copy
    when its organisation holds one."""
    o = stix_object.c
    stmt = (
        select(o.seq, o.id, o.type, o.raw)
        .where(id_is(stix_object, stix_id), visible_versions_clause(principal, stix_object, latest_only=False))
        .order_by(*preferred_first(principal))
        .limit(1)
    )
    return conn.execute(stmt).first()
