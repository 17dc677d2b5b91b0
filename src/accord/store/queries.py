"""Policy-filtered reads of stored objects (REST, UI, property tests): every query uses the policy clause."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from accord.models.objects import id_is, stix_object
from accord.sharing.policy import Principal, preferred_first, visible_versions_clause


def list_latest(
    conn: Connection,
    principal: Principal,
    *,
    types: list[str] | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[tuple[int, bytes]]:
    """The newest readable versions, newest first, as (seq, raw) pairs; keyset on seq."""
    o = stix_object.c
    stmt = select(o.seq, o.raw).where(visible_versions_clause(principal, stix_object, latest_only=True))
    if types:
        stmt = stmt.where(o.type.in_(types))
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


def readable_keys(conn: Connection, principal: Principal, *, latest_only: bool) -> set[tuple[str, str, int]]:
    """Every readable (id, version, seq) (a version of one copy): what property tests hold read paths to."""
    o = stix_object.c
    stmt = select(o.id, o.version, o.seq).where(
        visible_versions_clause(principal, stix_object, latest_only=latest_only)
    )
    return {(r.id, r.version, r.seq) for r in conn.execute(stmt)}
