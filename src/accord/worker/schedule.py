"""Periodic tasks of the job runner (pulling due feeds), run by one process of the node per interval.

`accord serve --workers N` starts a runner in every API process and `accord worker` may run beside them, so
each task first takes a lease row (`worker_lease`) with a conditional update: the process that moves
`until_us` forward runs the task, the others skip it until the lease has passed. A task that fails is logged
and tried again at the next interval; it never stops the runner. A lease whose holder was a process of this
machine that is gone (killed before it could release it) is free at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.core.clock import now_us
from accord.core.db import read_transaction, transaction
from accord.feeds.tasks import pull_due
from accord.models.schedule import worker_lease

log = logging.getLogger("accord.worker")

Periodic = Callable[[Engine], object]

_periodic: dict[str, Periodic] = {"feeds.pull_due": pull_due}
_HOST = socket.gethostname()[:80]
_HOLDER = f"{_HOST}:{os.getpid()}"


def register_periodic(name: str, task: Periodic) -> None:
    """Run `task(engine)` at every schedule interval (features register theirs at import)."""
    _periodic[name] = task


def unregister_periodic(name: str) -> None:
    """Stop running a periodic task."""
    _periodic.pop(name, None)


def take_lease(engine: Engine, name: str, seconds: float, holder: str = _HOLDER) -> bool:
    """Whether this process may run `name` now; if so no other process will for `seconds`."""
    now = now_us()
    until = now + int(seconds * 1_000_000)
    c = worker_lease.c
    # Look first without writing: on SQLite a write transaction takes the database lock.
    with read_transaction(engine) as conn:
        current = conn.execute(select(c.until_us, c.holder).where(c.name == name)).first()
    if current is not None and current.until_us > now and not holder_gone(current.holder):
        return False
    if current is not None:
        with transaction(engine) as conn:
            # Taken only as it was seen: another process that took it meanwhile keeps it.
            seen = (c.name == name, c.until_us == current.until_us, c.holder == current.holder)
            stmt = update(worker_lease).where(*seen).values(holder=holder, until_us=until)
            return conn.execute(stmt).rowcount == 1
    try:
        with transaction(engine) as conn:
            conn.execute(insert(worker_lease).values(name=name, holder=holder, until_us=until))
    except IntegrityError:  # another process created it first: it runs the task this time
        return False
    return True


def holder_gone(holder: str) -> bool:
    """Whether a lease holder (host:pid) is a process of this machine that no longer exists.

    Without this, an `accord sync` or server killed mid-run would keep its subscriptions' leases (30 minutes) and
    the next `accord sync` would wait for them and fail. Holders of other machines keep theirs until they pass:
    this assumes that processes sharing a hostname share a process table (one host, or one container).
    """
    host, _, pid = holder.rpartition(":")
    if host != _HOST or not pid.isdigit() or holder == _HOLDER:
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # it exists, as another user's process
        return False
    return False


def release_lease(engine: Engine, name: str, holder: str = _HOLDER) -> None:
    """Let any process take `name` again at once (the holder finished early)."""
    c = worker_lease.c
    with transaction(engine) as conn:
        conn.execute(update(worker_lease).where(c.name == name, c.holder == holder).values(until_us=0))


def run_periodic(engine: Engine, interval: float) -> list[str]:
    """Run every periodic task whose lease this process takes; names of those run (failures included)."""
    ran: list[str] = []
    # Slightly shorter than the interval, so the holder's own next tick finds the lease expired.
    lease = max(interval * 0.9, interval - 5.0)
    for name, task in list(_periodic.items()):
        try:
            if not take_lease(engine, name, lease):
                continue
            ran.append(name)
            task(engine)
        except Exception:  # a periodic task must never take the runner down
            log.exception("periodic task %s failed", name)
    return ran


class Schedule:
    """Calls run_periodic every `interval` seconds of the runner loop (never when interval <= 0)."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._next = time.monotonic()

    def seconds_left(self) -> float:
        """Seconds until the next run (infinity when disabled)."""
        if self.interval <= 0:
            return float("inf")
        return max(0.0, self._next - time.monotonic())

    def tick(self) -> list[str]:
        """Run the periodic tasks if their time has come; names of those run."""
        if self.interval <= 0 or time.monotonic() < self._next:
            return []
        self._next = time.monotonic() + self.interval
        return run_periodic(self.engine, self.interval)
