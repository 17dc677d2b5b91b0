"""Append-only, hash-chained audit log of security-relevant events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, text

from accord.core.clock import now_us
from accord.core.db import is_postgres
from accord.models.audit import audit_log

GENESIS = "0" * 64
SECRET_KEYS = frozenset({"password", "token", "secret", "token_hash", "password_hash"})


def _digest(prev_hash: str, at_us: int, actor: str, action: str, target: str, detail: str) -> str:
    payload = orjson.dumps([prev_hash, at_us, actor, action, target, detail])
    return hashlib.sha256(payload).hexdigest()


def record(conn: Connection, actor: str, action: str, target: str = "", **detail: Any) -> None:
    """Append one entry chained to the previous one (never with secrets)."""
    leaked = SECRET_KEYS.intersection(detail)
    if leaked:
        raise ValueError(f"audit entries never carry secrets: {sorted(leaked)}")
    if is_postgres(conn):
        # Serialise appenders so that each entry chains to the one committed before it.
        conn.execute(text("SELECT pg_advisory_xact_lock(7305001)"))
    prev = conn.execute(select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS
    at = now_us()
    body = orjson.dumps(detail, option=orjson.OPT_SORT_KEYS).decode()
    conn.execute(
        insert(audit_log).values(
            at_us=at,
            actor=actor,
            action=action,
            target=target,
            detail=body,
            prev_hash=prev_hash,
            hash=_digest(prev_hash, at, actor, action, target, body),
        )
    )


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking the chain."""

    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str = ""


def verify(conn: Connection) -> Verification:
    """Walk the chain from the start; report the first entry that breaks it."""
    prev_hash = GENESIS
    count = 0
    for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)):
        if row.prev_hash != prev_hash:
            return Verification(
                False,
                count,
                row.seq,
                "does not chain to the entry before it (an entry was deleted, inserted or reordered)",
            )
        expected = _digest(row.prev_hash, row.at_us, row.actor, row.action, row.target, row.detail)
        if row.hash != expected:
            return Verification(False, count, row.seq, "its content does not match its hash (modified)")
        prev_hash = row.hash
        count += 1
    return Verification(True, count)


def list_entries(conn: Connection, *, after_seq: int = 0, limit: int = 100) -> Iterator[dict[str, Any]]:
    """Entries in order, for the admin API."""
    stmt = select(audit_log).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq).limit(limit)
    for row in conn.execute(stmt):
        yield {
            "seq": row.seq,
            "at_us": row.at_us,
            "actor": row.actor,
            "action": row.action,
            "target": row.target,
            "detail": orjson.loads(row.detail),
            "hash": row.hash,
        }
