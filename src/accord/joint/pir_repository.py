"""The SQL of joint intelligence requirements (accord.joint.pir): requirements, their matches and what the
matcher reads. As in accord.joint.repository, every read for a caller joins the object version a row comes from
and filters it through the one sharing policy: a row whose version the caller may not read does not exist for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update

from accord.joint.repository import readable_seq_clause, seq_runs
from accord.models.accounts import org
from accord.models.joint import (
    joint_pir,
    joint_pir_match,
)
from accord.models.objects import stix_object
from accord.sharing.policy import Principal, readable_clause


def insert_pir(conn: Connection, row: dict[str, Any]) -> int:
    """A new requirement row; its id."""
    return int(conn.execute(insert(joint_pir).values(**row)).inserted_primary_key[0])  # type: ignore[index]


def update_pir(conn: Connection, pir_id: int, **values: Any) -> None:
    """Change a requirement row (after a new version of it)."""
    conn.execute(update(joint_pir).where(joint_pir.c.id == pir_id).values(**values))


def readable_pir(conn: Connection, principal: Principal, stix_id: str) -> Row[Any] | None:
    """The requirement row, if the caller may read its newest version."""
    p = joint_pir.c
    return conn.execute(select(joint_pir).where(p.stix_id == stix_id, readable_seq_clause(principal, p.seq))).first()


def list_pirs(
    conn: Connection, principal: Principal, *, before_id: int | None, limit: int, status: str | None
) -> list[Row[Any]]:
    """Readable requirements, newest first; keyset on id."""
    p = joint_pir.c
    stmt = select(joint_pir, org.c.name.label("owner")).join(org, org.c.id == p.owner_org_id)
    stmt = stmt.where(readable_seq_clause(principal, p.seq))
    if status is not None:
        stmt = stmt.where(p.status == status)
    if before_id is not None:
        stmt = stmt.where(p.id < before_id)
    return list(conn.execute(stmt.order_by(p.id.desc()).limit(limit)))


def pirs_by_ids(conn: Connection, ids: Sequence[int]) -> list[Row[Any]]:
    """Requirement rows by id (the matcher's own use: no caller reads them)."""
    return list(conn.execute(select(joint_pir).where(joint_pir.c.id.in_(list(ids))).order_by(joint_pir.c.id)))


def active_pir_versions(conn: Connection) -> list[tuple[int, int, int]]:
    """(id, seq, updated_us) of every active requirement: what the compiled matcher is keyed on (the time
    tells apart rows of the same id and seq made again after a rolled-back transaction)."""
    p = joint_pir.c
    stmt = select(p.id, p.seq, p.updated_us).where(p.status == "active").order_by(p.id)
    return [(r.id, r.seq, r.updated_us) for r in conn.execute(stmt)]


def active_pir_criteria(conn: Connection) -> list[tuple[int, str]]:
    """(id, compiled criteria JSON) of every active requirement."""
    p = joint_pir.c
    return [(r.id, r.criteria) for r in conn.execute(select(p.id, p.criteria).where(p.status == "active"))]


def versions_to_match(conn: Connection, seqs: Sequence[int], *, skip_type: str) -> Iterator[tuple[int, bytes]]:
    """(seq, raw) of these versions, by range scans of the primary key; objects of `skip_type` left out. Rows are
    streamed (the matcher reads every new version of an import: no list of them all is built)."""
    o = stix_object.c
    for first, last in seq_runs(seqs):
        stmt = select(o.seq, o.raw).where(o.seq.between(first, last), o.type != skip_type)
        for seq, raw in conn.execute(stmt):
            yield seq, raw if isinstance(raw, bytes) else bytes(raw)


def insert_matches(conn: Connection, found: Sequence[tuple[int, int, str]], at_us: int) -> list[tuple[int, int, str]]:
    """Record (requirement, version, criterion) matches of new versions in one insert; the rows added."""
    rows = [{"pir_id": p, "seq": s, "at_us": at_us, "matched": label[:300]} for p, s, label in found]
    if rows:
        conn.execute(insert(joint_pir_match), rows)
    return list(found)


def readable_latest_of_types(conn: Connection, principal: Principal, types: Sequence[str]) -> list[bytes]:
    """Raw newest versions of these types the caller may read."""
    o = stix_object.c
    stmt = select(o.raw).where(o.type.in_(list(types)), o.is_latest, readable_clause(principal, stix_object))
    return [bytes(r.raw) for r in conn.execute(stmt)]


def count_matches(conn: Connection, principal: Principal, pir_id: int) -> int:
    """How many matches of a requirement the caller may read."""
    m = joint_pir_match.c
    stmt = (
        select(func.count())
        .select_from(joint_pir_match.join(stix_object, stix_object.c.seq == m.seq))
        .where(m.pir_id == pir_id, readable_clause(principal, stix_object))
    )
    return int(conn.execute(stmt).scalar_one())


def readable_matches(
    conn: Connection, principal: Principal, pir_id: int, *, before_id: int | None, limit: int
) -> list[Row[Any]]:
    """Matches of a requirement whose version the caller may read, newest first; keyset on the match id."""
    m = joint_pir_match.c
    o = stix_object.c
    stmt = (
        select(m.id, m.matched, m.at_us, o.id.label("object_id"), o.type, o.version, o.raw)
        .join(stix_object, o.seq == m.seq)
        .where(m.pir_id == pir_id, readable_clause(principal, stix_object))
    )
    if before_id is not None:
        stmt = stmt.where(m.id < before_id)
    return list(conn.execute(stmt.order_by(m.id.desc()).limit(limit)))


def latest_readable_by_any(
    conn: Connection, principals: Sequence[Principal], *, before_seq: int | None, limit: int, skip_type: str
) -> list[tuple[int, bytes]]:
    """(seq, raw) of newest versions that at least one of these principals may read, newest first, keyset on
    seq (what a requirement's backfill matches)."""
    o = stix_object.c
    stmt = select(o.seq, o.raw).where(
        o.is_latest, o.type != skip_type, or_(*(readable_clause(p, stix_object) for p in principals))
    )
    if before_seq is not None:
        stmt = stmt.where(o.seq < before_seq)
    return [(r.seq, bytes(r.raw)) for r in conn.execute(stmt.order_by(o.seq.desc()).limit(limit))]


def matched_seqs(conn: Connection, pir_id: int, seqs: Sequence[int]) -> set[int]:
    """Which of these versions already matched the requirement."""
    m = joint_pir_match.c
    if not seqs:
        return set()
    return set(conn.execute(select(m.seq).where(m.pir_id == pir_id, m.seq.in_(list(seqs)))).scalars())


def pir_by_stix_id(conn: Connection, stix_id: str) -> Row[Any] | None:
    """The requirement row of this id, whoever may read it (the projection's own use)."""
    return conn.execute(select(joint_pir).where(joint_pir.c.stix_id == stix_id)).first()
