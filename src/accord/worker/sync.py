"""Peer subscriptions on their schedules, in a thread of `accord serve` and `accord worker`.

Each subscription runs under a lease row of its own (`sync:<id>`), so that the node's processes never run one
subscription twice at once, while different subscriptions run wherever a process is free. A failed run is
retried with exponential backoff (accord.federation.sync.backoff_seconds).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from accord.core.clock import now_us
from accord.core.db import read_transaction
from accord.core.settings import get_settings
from accord.federation import repository as repo
from accord.worker.schedule import release_lease, take_lease

log = logging.getLogger("accord.worker")
LEASE_SECONDS = 1_800.0  # a run longer than this is presumed dead (its process was killed)


def sync_due(engine: Engine) -> int:
    """Run every due subscription this process can take; how many ran."""
    from accord.federation.sync import run_subscription

    with read_transaction(engine) as conn:
        ids = repo.due_subscription_ids(conn, now_us(), int(get_settings().sync_every_seconds))
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
