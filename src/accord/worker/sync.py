"""Peer subscriptions on their schedules, in a thread of `accord serve` and `accord worker`.

Each subscription runs under a lease row of its own (`sync:<id>`), so that the node's processes never run one
subscription twice at once, while different subscriptions run wherever a process is free. A failed run is
retried with exponential backoff (accord.federation.sync.backoff_seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from accord.core.clock import now_us
from accord.core.db import read_transaction
from accord.core.errors import Conflict
from accord.core.settings import get_settings
from accord.federation import repository as repo
from accord.worker.schedule import release_lease, take_lease

if TYPE_CHECKING:
    from accord.federation.sync import SyncResult

log = logging.getLogger("accord.worker")
LEASE_SECONDS = 1_800.0  # a run longer than this is presumed dead (its process was killed)


def sync_due(engine: Engine) -> int:
    """Run every due subscription this process can take; how many ran (none when ACCORD_SYNC_EVERY_SECONDS=0)."""
    from accord.federation.sync import run_subscription

    every = int(get_settings().sync_every_seconds)
    if every <= 0:
        return 0
    with read_transaction(engine) as conn:
        ids = repo.due_subscription_ids(conn, now_us(), every)
    ran = 0
    for sub_id in ids:
        name = f"sync:{sub_id}"
        if not take_lease(engine, name, LEASE_SECONDS):
            continue
        try:
            run_subscription(engine, sub_id)
            ran += 1
        finally:
            release_lease(engine, name)
    return ran


def run_now(
    engine: Engine, names: list[str] | None = None, *, reconcile_removed: bool = False, wait_seconds: float = 600.0
) -> list[SyncResult]:
    """Run the subscriptions of the named peers (or of every enabled peer) once, now (`accord sync`, REST): each
    under its lease, waiting for a run another process has under way to end first."""
    from accord.federation.sync import planned, run_subscription

    results = []
    for sub_id in planned(engine, names):
        name = f"sync:{sub_id}"
        deadline = time.monotonic() + wait_seconds
        while not take_lease(engine, name, LEASE_SECONDS):
            if time.monotonic() > deadline:
                raise Conflict(f"subscription {sub_id} has been running elsewhere for over {wait_seconds:g} s")
            time.sleep(0.2)
        try:
            results.append(run_subscription(engine, sub_id, reconcile_removed=reconcile_removed))
        finally:
            release_lease(engine, name)
    return results


def run_sync_forever(engine: Engine, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Run due subscriptions until `stop` is set."""
    while not stop.is_set():
        try:
            ran = sync_due(engine)
        except Exception:  # e.g. the database is briefly unavailable: wait and try again
            log.exception("sync runner error")
            ran = 0
        if not ran:
            stop.wait(poll_seconds)
