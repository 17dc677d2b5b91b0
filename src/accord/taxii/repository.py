"""All SQL of the TAXII server: collection visibility, policy-filtered keyset pages, deletes, statuses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Row,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    or_,
    select,
    true,
    update,
)

from accord.models.collections import collection
from accord.models.jobs import taxii_status
from accord.models.objects import collection_object, id_is, same_object, stix_object
from accord.sharing.policy import Principal, preferred_over, readable_clause, visible_versions_clause
from accord.stix.ids import id_key
from accord.taxii.filters import VERSION_KEYWORDS, Filters

# The membership table is aliased in every page query: the policy's EXISTS subqueries use the plain table and
# must never correlate with the row being paged.
member = collection_object.alias("m")
obj = stix_object


def visible_collections(conn: Connection, principal: Principal) -> list[Row[Any]]:
    """Collections the caller may read or write (admins: all), in a stable order."""
    stmt = select(collection).order_by(collection.c.id)
    if not principal.is_admin:
        ids = sorted(principal.readable_collections | principal.writable_collections)
        stmt = stmt.where(collection.c.id.in_(ids))
    return list(conn.execute(stmt))


def find_collection(conn: Connection, key: str) -> Row[Any] | None:
    """A collection by its TAXII id (UUID) or alias."""
    stmt = select(collection).where((collection.c.uuid == key) | (collection.c.alias == key))
    return conn.execute(stmt).first()


def _in_collection(collection_id: int) -> Callable[[FromClause], ColumnElement[bool]]:
    def scope(version: FromClause) -> ColumnElement[bool]:
        other = collection_object.alias("scope_m")
        return exists().where(other.c.collection_id == collection_id, other.c.object_seq == version.c.seq)

    return scope


def version_clause(principal: Principal, collection_id: int, versions: Sequence[str]) -> ColumnElement[bool]:
    """Readable versions matching match[version], where first/last are among the readable versions in this
    collection (the caller never learns of versions it may not read, R7)."""
    if "all" in versions:
        return readable_clause(principal, obj)
    scope = _in_collection(collection_id)
    parts: list[ColumnElement[bool]] = []
    if "last" in versions:
        # A readable version that is the newest stored anywhere, of an id held in one copy, is the newest here
        # too: that short-circuit spares most rows the NOT EXISTS probe below.
        parts.append(and_(obj.c.is_latest == true(), obj.c.sole_copy == true(), readable_clause(principal, obj)))
        parts.append(visible_versions_clause(principal, obj, latest_only=True, scope=scope))
    if "first" in versions:
        older = stix_object.alias("older")
        no_older = ~exists().where(
            same_object(older, obj),
            preferred_over(principal, older, obj, newest=False),
            readable_clause(principal, older),
            scope(older),
        )
        parts.append(and_(readable_clause(principal, obj), no_older))
    stamps = [v for v in versions if v not in VERSION_KEYWORDS]
    if stamps:
        parts.append(and_(readable_clause(principal, obj), obj.c.version.in_(stamps)))
    return or_(*parts)


@lru_cache(maxsize=512)
def _page_statement(
    principal: Principal,
    collection_id: int,
    versions: tuple[str, ...],
    shape: tuple[bool, ...],
    columns: tuple[str, ...],
) -> Any:
    """The page query for one caller, collection and filter shape; values of the filters are bound later.

    Building the policy clauses costs more than running the query, so statements are cached (Principal is
    immutable and hashable, and it holds everything the policy clauses depend on).
    """
    has_after, by_object, has_ids, has_types, has_spec, ordered = shape
    cols = [member.c.tick if name == "tick" else obj.c[name] for name in columns]
    stmt = (
        select(*cols)
        .select_from(member.join(obj, obj.c.seq == member.c.object_seq))
        .where(member.c.collection_id == collection_id)
    )
    if has_after:
        stmt = stmt.where(member.c.tick > bindparam("after_tick"))
    if by_object:
        stmt = stmt.where(obj.c.id_key == bindparam("object_key"), obj.c.id == bindparam("object_id"))
    if has_ids:
        stmt = stmt.where(
            obj.c.id_key.in_(bindparam("id_keys", expanding=True)), obj.c.id.in_(bindparam("ids", expanding=True))
        )
    if has_types:
        stmt = stmt.where(obj.c.type.in_(bindparam("types", expanding=True)))
    if has_spec:
        stmt = stmt.where(obj.c.spec_version.in_(bindparam("spec_versions", expanding=True)))
    stmt = stmt.where(version_clause(principal, collection_id, versions))
    if ordered:
        stmt = stmt.order_by(member.c.tick).limit(bindparam("row_limit", type_=Integer))
    return stmt


def _run(
    conn: Connection,
    principal: Principal,
    collection_id: int,
    f: Filters,
    columns: tuple[str, ...],
    *,
    after_tick: int | None,
    object_id: str | None,
    limit: int | None,
) -> list[Row[Any]]:
    shape = (after_tick is not None, object_id is not None, bool(f.ids), bool(f.types), bool(f.spec_versions))
    stmt = _page_statement(principal, collection_id, f.versions, (*shape, limit is not None), columns)
    params: dict[str, Any] = {}
    if after_tick is not None:
        params["after_tick"] = after_tick
    if object_id is not None:
        params["object_id"], params["object_key"] = object_id, id_key(object_id)
    if f.ids:
        params["ids"] = list(f.ids)
        params["id_keys"] = [id_key(i) for i in f.ids]
    if f.types:
        params["types"] = list(f.types)
    if f.spec_versions:
        params["spec_versions"] = list(f.spec_versions)
    if limit is not None:
        params["row_limit"] = limit
    if conn.dialect.name == "postgresql":
        # The policy's correlated subqueries inflate the planner's cost estimate past jit_above_cost: JIT then
        # spends far longer compiling a page's query than running it (bench/bench_taxii.py, PostgreSQL).
        conn.exec_driver_sql("SET LOCAL jit = off")
    return list(conn.execute(stmt, params).all())


def page(
    conn: Connection,
    principal: Principal,
    collection_id: int,
    f: Filters,
    *,
    after_tick: int | None,
    limit: int,
    object_id: str | None = None,
    raw: bool = True,
) -> list[Row[Any]]:
    """Up to limit+1 readable memberships after a tick, oldest first: (tick, id, version[, raw])."""
    columns = ("tick", "id", "version", "raw") if raw else ("tick", "id", "version")
    return _run(conn, principal, collection_id, f, columns, after_tick=after_tick, object_id=object_id, limit=limit + 1)


def object_visible(conn: Connection, principal: Principal, collection_id: int, object_id: str) -> bool:
    """Whether any version of the object in this collection is readable by the caller."""
    stmt = (
        select(member.c.tick)
        .select_from(member.join(obj, obj.c.seq == member.c.object_seq))
        .where(member.c.collection_id == collection_id, id_is(obj, object_id), readable_clause(principal, obj))
        .limit(1)
    )
    return conn.execute(stmt).first() is not None


def deletable(conn: Connection, principal: Principal, collection_id: int, object_id: str, f: Filters) -> list[Row[Any]]:
    """Readable memberships of the object matching the filters: (tick, owner_org_id)."""
    columns = ("tick", "owner_org_id")
    return _run(conn, principal, collection_id, f, columns, after_tick=None, object_id=object_id, limit=None)


# --- status resources -------------------------------------------------------------------------------------------


def insert_status(conn: Connection, values: dict[str, Any]) -> None:
    """Store a new status resource."""
    conn.execute(insert(taxii_status), values)  # given to execute: see accord.jobs.repository.enqueue_job


def get_status(conn: Connection, status_id: str) -> Row[Any] | None:
    """One status resource by id."""
    return conn.execute(select(taxii_status).where(taxii_status.c.id == status_id)).first()


def purge_statuses(conn: Connection, before_us: int) -> int:
    """Delete completed status resources requested before `before_us` (pending ones wait for their job)."""
    s = taxii_status.c
    result = conn.execute(delete(taxii_status).where(s.request_us < before_us, s.status == "complete"))
    return int(result.rowcount or 0)


def update_status(conn: Connection, status_id: str, values: dict[str, Any]) -> None:
    """Overwrite a status resource's progress."""
    # Values given to execute (see accord.jobs.repository.enqueue_job): a status lists every object's outcome.
    stmt = update(taxii_status).where(taxii_status.c.id == bindparam("status_key"))
    conn.execute(stmt, {"status_key": status_id, **values})
