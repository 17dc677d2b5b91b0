"""The job runner: claims queued jobs from the database queue and runs them, one transaction per job."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, Row

from accord.core.clock import now_us
from accord.core.db import read_transaction, transaction
from accord.core.perf import LARGE_BODY_BYTES, release_memory
from accord.core.settings import get_settings
from accord.jobs import repository as jobs
from accord.joint import (
    pir,  # also registers the matching of new intelligence on ingest
    projection,  # noqa: F401  (registers the projection of received joint work)
    webhooks,
)
from accord.taxii.tasks import fail_add_objects, run_add_objects
from accord.taxii.writes import ADD_OBJECTS_JOB
from accord.worker.schedule import Schedule

log = logging.getLogger("accord.worker")

Handler = Callable[[Connection, bytes], None]
FailureHandler = Callable[[Connection, bytes, str], None]

MAX_ATTEMPTS = 3
RETRY_US = 30 * 1_000_000

_handlers: dict[str, tuple[Handler, FailureHandler | None]] = {
    ADD_OBJECTS_JOB: (run_add_objects, fail_add_objects),
    webhooks.DELIVER_JOB: (webhooks.run_delivery, None),  # it retries and gives up by itself
    pir.BACKFILL_JOB: (pir.run_backfill, None),
}


def register_handler(kind: str, run: Handler, on_failure: FailureHandler | None = None) -> None:
    """Let the runner execute jobs of `kind` (features register theirs at import)."""
    _handlers[kind] = (run, on_failure)


def claim(engine: Engine) -> Row[Any] | None:
    """Take one runnable job, counting the attempt; None when idle.

    Runnable: queued and due, or "running" but held by no live transaction. A job runs in a transaction that
    first locks its row (run_one), so a "running" job whose row nobody holds belonged to a process that died
    (SIGKILL, power loss): its work was rolled back with it, and it is taken again at once. The attempt is
    counted before the run and committed, so a job that kills its process every time is given up after
    MAX_ATTEMPTS. On PostgreSQL the rows held by running jobs are skipped (SKIP LOCKED); on SQLite this write
    transaction cannot start while a job's transaction runs, so every "running" job it sees is abandoned.
    """
    now = now_us()
    # Idle polls only read: on SQLite a write transaction would take the database lock every second.
    with read_transaction(engine) as conn:
        if jobs.runnable_job(conn, _handlers, now) is None:
            return None
    while True:
        with transaction(engine) as conn:
            # Several workers share the queue: each skips the rows another has locked.
            found = jobs.runnable_job(conn, _handlers, now, lock=True)
            if found is None:
                return None
            if found.status == "running" and found.attempts >= MAX_ATTEMPTS:
                log.error("job %s ended its process %s times; it is given up", found.id, found.attempts)
                _give_up(conn, jobs.job_row(conn, found.id), "the process running it died")
                continue
            return jobs.start_job(conn, found.id, now)


def _give_up(conn: Connection, row: Row[Any], message: str) -> None:
    run_fail = _handlers[row.kind][1]
    if run_fail is not None:
        run_fail(conn, bytes(row.payload), "the server could not process this object")
    jobs.finish_job(conn, row.id, status="failed", last_error=message)


def _finish(engine: Engine, row: Row[Any], exc: Exception) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with transaction(engine) as conn:
        if row.attempts >= MAX_ATTEMPTS:
            _give_up(conn, row, message)
            return
        jobs.finish_job(
            conn, row.id, status="queued", run_after_us=now_us() + RETRY_US * row.attempts, last_error=message
        )


def run_one(engine: Engine, row: Row[Any]) -> bool:
    """Run a claimed job in its own transaction; on error retry later, and give up after MAX_ATTEMPTS.

    The transaction first locks the job's row, still "running": another runner that claimed it meanwhile
    (it looked abandoned) finds it locked or done and leaves it, so a job's work commits once.
    """
    run = _handlers[row.kind][0]
    try:
        with transaction(engine) as conn:
            if not jobs.hold_job(conn, row.id, row.attempts):
                return False  # another runner has it (or finished it)
            run(conn, bytes(row.payload))
            jobs.finish_job(conn, row.id, status="done")
    except Exception as exc:  # a job must never take the runner down
        log.exception("job %s (%s) failed on attempt %s", row.id, row.kind, row.attempts)
        _finish(engine, row, exc)
        return False
    finally:
        if len(row.payload) > LARGE_BODY_BYTES:  # a large envelope's parsed objects are freed by now
            release_memory()
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
