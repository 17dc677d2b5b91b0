"""The job runner: claims queued jobs from the database queue and runs them, one transaction per job."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, or_, select, update

from accord.core.clock import now_us
from accord.core.db import is_postgres, read_transaction, transaction
from accord.core.settings import get_settings
from accord.joint import pir  # noqa: F401  (registers the matching of new intelligence on ingest)
from accord.models.jobs import job
from accord.taxii.tasks import fail_add_objects, run_add_objects
from accord.taxii.writes import ADD_OBJECTS_JOB
from accord.worker.schedule import Schedule

log = logging.getLogger("accord.worker")

Handler = Callable[[Connection, bytes], None]
FailureHandler = Callable[[Connection, bytes, str], None]

MAX_ATTEMPTS = 3
LEASE_US = 15 * 60 * 1_000_000  # a "running" job untouched this long belonged to a process that died
RETRY_US = 30 * 1_000_000

_handlers: dict[str, tuple[Handler, FailureHandler | None]] = {
    ADD_OBJECTS_JOB: (run_add_objects, fail_add_objects),
}


def register_handler(kind: str, run: Handler, on_failure: FailureHandler | None = None) -> None:
    """Let the runner execute jobs of `kind` (features register theirs at import)."""
    _handlers[kind] = (run, on_failure)


def claim(engine: Engine) -> Row[Any] | None:
    """Take one runnable job (queued, or abandoned while running), marking it running; None when idle."""
    now = now_us()
    c = job.c
    runnable = and_(
        c.kind.in_(sorted(_handlers)),
        or_(
            and_(c.status == "queued", c.run_after_us <= now),
            and_(c.status == "running", c.updated_us < now - LEASE_US),
        ),
    )
    stmt = select(c.id).where(runnable).order_by(c.id).limit(1)
    # Idle polls only read: on SQLite a write transaction would take the database lock every second.
    with read_transaction(engine) as conn:
        if conn.execute(stmt).first() is None:
            return None
    with transaction(engine) as conn:
        if is_postgres(conn):
            # Several workers share the queue: each skips the rows another has locked.
            stmt = stmt.with_for_update(skip_locked=True)
        # On SQLite the write transaction (BEGIN IMMEDIATE) already serialises claimers.
        job_id = conn.execute(stmt).scalar()
        if job_id is None:
            return None
        conn.execute(
            update(job).where(c.id == job_id).values(status="running", attempts=c.attempts + 1, updated_us=now)
        )
        return conn.execute(select(job).where(c.id == job_id)).one()


def _finish(engine: Engine, row: Row[Any], exc: Exception) -> None:
    run_fail = _handlers[row.kind][1]
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction(engine) as conn:
        if row.attempts >= MAX_ATTEMPTS:
            if run_fail is not None:
                run_fail(conn, bytes(row.payload), "the server could not process this object")
            values: dict[str, Any] = {"status": "failed"}
        else:
            values = {"status": "queued", "run_after_us": now_us() + RETRY_US * row.attempts}
        conn.execute(update(job).where(job.c.id == row.id).values(last_error=message, updated_us=now_us(), **values))


def run_one(engine: Engine, row: Row[Any]) -> bool:
    """Run a claimed job in its own transaction; on error retry later, and give up after MAX_ATTEMPTS."""
    run = _handlers[row.kind][0]
    try:
        with transaction(engine) as conn:
            run(conn, bytes(row.payload))
            conn.execute(update(job).where(job.c.id == row.id).values(status="done", updated_us=now_us()))
    except Exception as exc:  # a job must never take the runner down
        log.exception("job %s (%s) failed on attempt %s", row.id, row.kind, row.attempts)
        _finish(engine, row, exc)
        return False
    return True


def run_pending(engine: Engine, limit: int = 100) -> int:
    """Run up to `limit` runnable jobs; return how many were run (successfully or not)."""
    count = 0
    while count < limit:
        row = claim(engine)
        if row is None:
            break
        run_one(engine, row)
        count += 1
    return count


def run_forever(
    engine: Engine, stop_event: threading.Event, poll_seconds: float = 1.0, schedule_seconds: float | None = None
) -> None:
    """Run jobs and the periodic tasks (due feed pulls) until `stop_event` is set, polling when idle.

    `schedule_seconds` (default: the feed_schedule_seconds setting; 0 = never) spaces the periodic tasks.
    """
    if schedule_seconds is None:
        schedule_seconds = get_settings().feed_schedule_seconds
    schedule = Schedule(engine, schedule_seconds)
    # Peer subscriptions run beside the queue: a long pull never holds up a queued envelope.
    from accord.worker.sync import run_sync_forever

    syncing = threading.Thread(target=run_sync_forever, args=(engine, stop_event), name="accord-sync", daemon=True)
    syncing.start()
    try:
        _run_loop(engine, stop_event, schedule, poll_seconds)
    finally:
        syncing.join(30)


def _run_loop(engine: Engine, stop_event: threading.Event, schedule: Schedule, poll_seconds: float) -> None:
    while not stop_event.is_set():
        schedule.tick()  # never raises: each task's failure is logged
        try:
            ran = run_pending(engine, 10)
        except Exception:  # e.g. the database is briefly unavailable: wait and try again
            log.exception("job runner error")
            ran = 0
        if ran == 0:
            stop_event.wait(min(poll_seconds, schedule.seconds_left()))
