"""All SQL of the job queue (`job`): queueing, claiming, and recording each attempt's outcome."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from accord.core.clock import now_us
from accord.core.db import is_postgres
from accord.models.jobs import job


def enqueue_job(conn: Connection, kind: str, payload: bytes) -> int:
    """Queue a job for the worker; it becomes visible when the caller commits."""
    now = now_us()
    values = {
        "kind": kind,
        "payload": payload,
        "status": "queued",
        "run_after_us": now,
        "attempts": 0,
        "created_us": now,
        "updated_us": now,
    }
    key = conn.execute(insert(job).values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


def runnable_job_id(
    conn: Connection, kinds: Iterable[str], now: int, lease_us: int, *, lock: bool = False
) -> int | None:
    """The oldest job of these kinds that is queued and due, or running but untouched for `lease_us`; None if none.

    With `lock` on PostgreSQL the row is locked, skipping rows another worker has locked (SKIP LOCKED); on SQLite
    the caller's write transaction (BEGIN IMMEDIATE) already serialises claimers.
    """
    c = job.c
    runnable = and_(
        c.kind.in_(sorted(kinds)),
        or_(
            and_(c.status == "queued", c.run_after_us <= now),
            and_(c.status == "running", c.updated_us < now - lease_us),
        ),
    )
    stmt = select(c.id).where(runnable).order_by(c.id).limit(1)
    if lock and is_postgres(conn):
        stmt = stmt.with_for_update(skip_locked=True)
    job_id = conn.execute(stmt).scalar()
    return None if job_id is None else int(job_id)


def start_job(conn: Connection, job_id: int, now: int) -> Row[Any]:
    """Mark a job running (one more attempt) and return its row."""
    c = job.c
    conn.execute(update(job).where(c.id == job_id).values(status="running", attempts=c.attempts + 1, updated_us=now))
    return conn.execute(select(job).where(c.id == job_id)).one()


def finish_job(conn: Connection, job_id: int, **values: Any) -> None:
    """Record a job's outcome: done, failed, or queued again (with `run_after_us` and `last_error`)."""
    conn.execute(update(job).where(job.c.id == job_id).values(updated_us=now_us(), **values))
