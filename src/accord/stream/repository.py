"""All SQL of the stream: one keyset read of a collection's additions and removals after a tick."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, and_, bindparam, case, func, literal, select, union_all

from accord.models.objects import collection_object, collection_removal, stix_object
from accord.sharing.policy import Principal, readable_clause

ADDED, REMOVED = 0, 1
# The outer tables are aliased: the policy's EXISTS probes use the plain membership and removal tables and must
# never correlate with the row being read.
added = collection_object.alias("added")
gone = collection_removal.alias("gone")
version = stix_object.alias("version")


def _side(principal: Principal, table: Any, kind: int) -> Select[Any]:
    if kind == REMOVED:
        # Visible when that one removed membership would have made the version readable (ARCHITECTURE.md R7).
        visible = readable_clause(principal, stix_object, collection_removal, member_tick=table.c.tick)
    else:
        visible = readable_clause(principal, stix_object)
    return (
        select(
            table.c.tick.label("tick"),
            literal(kind, Integer).label("kind"),
            table.c.object_seq.label("seq"),
            case((visible, 1), else_=0).label("visible"),
        )
        .select_from(table.join(stix_object, stix_object.c.seq == table.c.object_seq))
        .where(table.c.collection_id == bindparam("collection_id"), table.c.tick > bindparam("after"))
        .order_by(table.c.tick)
        .limit(bindparam("row_limit", type_=Integer))
    )


def _statement(principal: Principal, removals_only: bool) -> Select[Any]:
    wanted = ((gone, REMOVED),) if removals_only else ((added, ADDED), (gone, REMOVED))
    sides = union_all(*(select(_side(principal, t, k).subquery()) for t, k in wanted))
    u = sides.subquery("u")
    shown = u.c.visible == 1
    return (
        select(
            u.c.tick,
            u.c.kind,
            u.c.visible,
            # Only what the caller may read leaves the database.
            case((shown, version.c.id)).label("id"),
            case((shown, version.c.version)).label("version"),
            case((and_(shown, u.c.kind == ADDED), version.c.raw)).label("raw"),
        )
        .select_from(u.join(version, version.c.seq == u.c.seq))
        .order_by(u.c.tick)
        .limit(bindparam("row_limit", type_=Integer))
    )


def events_after(
    conn: Connection, principal: Principal, collection_id: int, after: int, limit: int, *, removals_only: bool = False
) -> list[Row[Any]]:
    """The first `limit` additions and removals of a collection after a tick, in tick order, each saying whether
    the caller may see it: (tick, kind, visible, id, version, raw); id, version and raw only when visible."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")  # as accord.taxii.repository: the policy's subqueries
    params = {"collection_id": collection_id, "after": after, "row_limit": limit}
    return list(conn.execute(_statement(principal, removals_only), params).all())


def last_tick(conn: Connection, collection_id: int) -> int:
    """The newest tick of the collection's additions and removals (0 when none): where "now" starts."""
    found = [
        conn.execute(select(func.max(t.c.tick)).where(t.c.collection_id == collection_id)).scalar()
        for t in (collection_object, collection_removal)
    ]
    return max((int(t) for t in found if t is not None), default=0)
