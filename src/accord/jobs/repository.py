"""All SQL of the job queue (`job`): queueing, claiming, and recording each attempt's outcome."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Row, and_, insert, or_, select, update

from accord.core.clock import now_us
from accord.core.db import is_postgres
from accord.models.jobs import job


def enqueue_job(conn: Connection, kind: str, payload: bytes, *, run_after_us: int | None = None) -> int:
    """Queue a job for the worker (due at once, or at `run_after_us`); it becomes visible when the caller commits."""
    now = now_us()
    values = {
        "kind": kind,
        "payload": payload,
        "status": "queued",
        "run_after_us": now if run_after_us is None else run_after_us,
        "attempts": 0,
        "created_us": now,
        "updated_us": now,
    }
    # Values given to execute, not written into the statement: the engine's compiled-statement cache keeps the
    # first statement of each shape, with any values written into it (a queued envelope's whole body).
    key = conn.execute(insert(job), values).inserted_primary_key
    assert key is not None
    return int(key[0])


def runnable_job(conn: Connection, kinds: Iterable[str], now: int, *, lock: bool = False) -> Row[Any, Any, Any] | None:
    """The oldest job of these kinds that is queued and due, or "running" (id, status, attempts); None if none.

    A "running" job is runnable only if no live transaction holds its row (the runner locks it while the job
    runs): with `lock` on PostgreSQL the rows others hold are skipped (SKIP LOCKED); on SQLite the caller's write
    transaction (BEGIN IMMEDIATE) cannot start while a job's transaction runs, so a "running" row it sees is
    abandoned.
    """
    c = job.c
    runnable = and_(
        c.kind.in_(sorted(kinds)),
        or_(and_(c.status == "queued", c.run_after_us <= now), c.status == "running"),
    )
    stmt = select(c.id, c.status, c.attempts).where(runnable).order_by(c.id).limit(1)
    if lock and is_postgres(conn):
        stmt = stmt.with_for_update(skip_locked=True)
    return conn.execute(stmt).first()


def hold_job(conn: Connection, job_id: int, attempts: int) -> bool:
    """Lock a job this runner claimed, still running at that attempt; False if another runner has it or is done."""
    c = job.c
    mine = select(c.id).where(c.id == job_id, c.status == "running", c.attempts == attempts)
    if is_postgres(conn):
        mine = mine.with_for_update(skip_locked=True)
    return conn.execute(mine).first() is not None


def job_row(conn: Connection, job_id: int) -> Row[Any]:
    """A job's whole row."""
    return conn.execute(select(job).where(job.c.id == job_id)).one()


def start_job(conn: Connection, job_id: int, now: int) -> Row[Any]:
    """Mark a job running (one more attempt) and return its row."""
    c = job.c
    conn.execute(update(job).where(c.id == job_id).values(status="running", attempts=c.attempts + 1, updated_us=now))
    return job_row(conn, job_id)


def finish_job(conn: Connection, job_id: int, **values: Any) -> None:
    """Record a job's outcome: done, failed, or queued again (with `run_after_us` and `last_error`)."""
    conn.execute(update(job).where(job.c.id == job_id).values(updated_us=now_us(), **values))
