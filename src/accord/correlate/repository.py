"""All SQL of correlation and lookup. Every query that reveals an object filters it through the sharing policy.

Batches travel as one JSON parameter (json_each on SQLite, json_array_elements on PostgreSQL), so each stage
of a lookup is one statement whatever the number of values, and no IN list hits a bound-parameter limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Integer, String, Subquery, and_, column, func, literal, select, text, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from accord.correlate.indexer import CIDR_MARK
from accord.models.accounts import org
from accord.models.correlate import value_index
from accord.models.objects import stix_object
from accord.sharing.policy import Principal, readable_clause, visible_versions_clause

# Probe modes: exact key, CIDR containing an address or CIDR (lo/hi equality), addresses or CIDRs inside a
# CIDR (lo range), subdomains of a domain (key range).
EXACT, CONTAINS, INSIDE, CHILDREN = "e", "c", "r", "d"
LINK_KINDS = ("ref:report", "ref:relationship", "ref:sighting")


class Probe(NamedTuple):
    """One index probe for the value numbered `tag`: mode, kind, and the key (or bounds a..b)."""

    tag: int
    mode: str
    kind: str
    a: str
    b: str = ""


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


class _Ordered(Join):
    """An inner join whose left side SQLite must loop over first (CROSS JOIN); a plain JOIN elsewhere.

    Without it SQLite may drive a batch from a policy index (is_latest, a kind) and probe the batch per row.
    """

    inherit_cache = True


@compiles(_Ordered, "sqlite")
def _ordered_sqlite(join: _Ordered, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left, right = compiler.process(join.left, **kw), compiler.process(join.right, **kw)
    kw.pop("asfrom")
    return f"{left} CROSS JOIN {right} ON {compiler.process(join.onclause, **kw)}"


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


# Statements are built once per (dialect, principal) and reused: building the policy-filtered union costs
# more than running it for one value. Batches are bound at execution time.
@lru_cache(maxsize=512)
def _probe_stmt(dialect: str, principal: Principal) -> Any:
    v, o = value_index.c, stix_object.c
    visible = _visible(principal)

    def part(m: str, on: Any) -> Any:
        # Each mode has its own JSON parameter: SQLite re-reads a JSON element per extracted field, so one
        # shared array scanned by every part would cost four full passes over the batch.
        p = _json_table(dialect, f"probes_{m}", ("int", "str", "str", "str"))
        tag, kind, a, b = (p.c[f"v{i}"] for i in range(4))
        joined = _Ordered(_Ordered(p, value_index, on(kind, a, b)), stix_object, o.seq == v.object_seq)
        cols = (tag, literal(m).label("mode"), v.kind, v.key, v.value, o.seq, o.id, o.type, org.c.name)
        return (
            select(*cols)
            .select_from(joined.join(org, org.c.id == o.owner_org_id))
            .where(v.correlating.is_(True), visible)
        )

    return union_all(
        part(EXACT, lambda kind, a, b: and_(v.kind == kind, v.key == a)),
        # The kind comes from the probe, never a constant: a constant would let SQLite scan the index by
        # kind in the outer loop; with it, the probes drive and each one is a single index seek or range.
        # lo is written as a one-point range: only then does SQLite see the partial index (lo IS NOT NULL) apply.
        part(CONTAINS, lambda kind, a, b: and_(v.kind == kind, v.lo >= a, v.lo <= a, v.hi == b)),
        part(INSIDE, lambda kind, a, b: and_(v.kind == kind, v.lo >= a, v.lo <= b)),
        part(CHILDREN, lambda kind, a, b: and_(v.kind == kind, v.key > a, v.key < b)),
    )


def probe(conn: Connection, principal: Principal, probes: Sequence[Probe]) -> list[Match]:
    """Readable objects (latest readable versions) whose correlating index rows answer the probes."""
    if not probes:
        return []
    by_mode: dict[str, list[tuple[int, str, str, str]]] = {EXACT: [], CONTAINS: [], INSIDE: [], CHILDREN: []}
    for p in probes:
        by_mode[p.mode].append((p.tag, p.kind, p.a, p.b))
    params = {f"probes_{m}": orjson.dumps(rows).decode() for m, rows in by_mode.items()}
    stmt = _probe_stmt(conn.dialect.name, principal)
    return [Match(*row) for row in conn.execute(stmt, params)]


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
    agg = (
        select(o.id, func.min(o.seq).label("first"), func.max(o.seq).label("last"))
        .where(o.id.in_(ids), readable_clause(principal, stix_object))
        .group_by(o.id)
        .subquery("agg")
    )
    joined = _Ordered(wanted, latest, latest.c.seq == wanted.c.v0).join(agg, agg.c.id == latest.c.id)
    return select(latest.c.seq, latest.c.raw, agg.c.first, agg.c.last).select_from(joined)


def details(conn: Connection, principal: Principal, seqs: Sequence[int]) -> dict[int, Details]:
    """Bodies and first/last readable seq of the objects of these (already policy-checked) versions."""
    if not seqs:
        return {}
    stmt = _details_stmt(conn.dialect.name, principal)
    rows = conn.execute(stmt, {"seqs": orjson.dumps(list(seqs)).decode()})
    return {r.seq: Details(r.raw, r.first, r.last) for r in rows}


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
    wanted = _json_table(dialect, "ids", ("str",))
    o = stix_object.c
    stmt = (
        select(o.seq, o.id, o.type, o.raw)
        .select_from(_Ordered(wanted, stix_object, o.id == wanted.c.v0))
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
    return list(conn.execute(stmt, {"ids": orjson.dumps(sorted(set(ids))).decode()}))


def latest_readable(conn: Connection, principal: Principal, stix_id: str) -> Any | None:
    """The latest readable version (seq, id, type, raw) of one object, or None (R7)."""
    o = stix_object.c
    stmt = (
        select(o.seq, o.id, o.type, o.raw)
        .where(o.id == stix_id, visible_versions_clause(principal, stix_object, latest_only=False))
        .order_by(o.version.desc())
        .limit(1)
    )
    return conn.execute(stmt).first()
