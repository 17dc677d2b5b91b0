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
from accord.joint import (
    pir,  # noqa: F401  (registers the matching of new intelligence on ingest)
    projection,  # noqa: F401  (registers the projection of received joint work)
)
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
    if get_settings().joint_follow:
        _follow_due(engine, every)
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


def _follow_due(engine: Engine, every: int) -> None:
    """Follow each peer's joint collections once per schedule interval (a lease left to pass, not released)."""
    from accord.federation.follow import follow_peers

    with read_transaction(engine) as conn:
        peers = [(p.id, p.name) for p in repo.list_peers(conn) if p.enabled]
    due = [name for peer_id, name in peers if take_lease(engine, f"follow:{peer_id}", every)]  # names run long
    if due:
        follow_peers(engine, due)


def run_now(
    engine: Engine, names: list[str] | None = None, *, reconcile_removed: bool = False, wait_seconds: float = 600.0
) -> list[SyncResult]:
    """Run the subscriptions of the named peers (or of every enabled peer) once, now (`accord sync`, REST): each
    under its lease, waiting for a run another process has under way to end first."""
    from accord.federation.follow import follow_peers
    from accord.federation.sync import planned, run_subscription

    if get_settings().joint_follow:
        follow_peers(engine, names)  # the joint work a peer shares with us is synced with it
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


def run_locked(engine: Engine, sub_id: int, wait_seconds: float = LEASE_SECONDS) -> SyncResult | None:
    """Run one subscription under its lease (waiting for a run elsewhere to end); None if it never could."""
    from accord.federation.sync import run_subscription

    name = f"sync:{sub_id}"
    deadline = time.monotonic() + wait_seconds
    while not take_lease(engine, name, LEASE_SECONDS):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    try:
        return run_subscription(engine, sub_id)
    finally:
        release_lease(engine, name)


class LiveFollower:
    """A `--live` pull: the peer's stream rings a bell on every event it commits, and each ring runs the pull
    (signed TAXII pages and removals, exactly as a scheduled run does), so a publication over there is here
    within a poll of its stream. Without a stream (a peer that is no Accord node, or one that is down), it polls
    every FALLBACK_SECONDS and tries the stream again with backoff."""

    FALLBACK_SECONDS = 30.0
    LEASE = 60.0  # renewed while following: one process of the node follows each live subscription

    def __init__(self, engine: Engine, sub_id: int, stop: threading.Event) -> None:
        self.engine = engine
        self.sub_id = sub_id
        self.stop = stop
        self.bell = threading.Event()
        self.thread = threading.Thread(target=self._follow, name=f"accord-live-{sub_id}", daemon=True)
        self.reader: threading.Thread | None = None
        self.reader_failures = 0

    def start(self) -> None:
        self.thread.start()

    def _listen(self) -> None:
        """Ring the bell on every event of the peer's stream until it ends or fails."""
        from accord.federation.sync import remote_server, stream_headers, stream_url
        from accord.remote.http import guarded_client
        from accord.remote.sse import EventSource
        from accord.remote.taxii import TaxiiClient

        try:
            with read_transaction(self.engine) as conn:
                sub = repo.get_subscription(conn, self.sub_id)
                peer = repo.get_peer_by_id(conn, sub.peer_id) if sub is not None else None
            if sub is None or peer is None:
                return
            server = remote_server(peer)
            with TaxiiClient(server) as client:
                url = stream_url(client.api_root(), sub.remote_collection)
            with guarded_client(allow_private=server.allow_private, timeout=server.timeout) as http:
                self.reader_failures = 0
                for _ in EventSource(http, url, stream_headers(server)):
                    self.bell.set()
                    if self.stop.is_set():
                        return
        except Exception as exc:  # the stream is a doorbell: polling carries on without it
            self.reader_failures += 1
            log.info("live subscription %s: stream unavailable (%s); polling", self.sub_id, exc)
        finally:
            self.bell.set()  # catch up on whatever came while (re)connecting

    def _ensure_reader(self) -> None:
        if self.reader is not None and self.reader.is_alive():
            return
        self.reader = threading.Thread(target=self._listen, name=f"accord-live-{self.sub_id}-stream", daemon=True)
        self.reader.start()

    def _follow(self) -> None:
        name = f"live:{self.sub_id}"
        while not self.stop.is_set():
            if not take_lease(self.engine, name, self.LEASE):
                self.stop.wait(5.0)
                continue
            renewed = time.monotonic()
            retry_at = 0.0
            try:
                self.bell.set()
                while not self.stop.is_set() and self._still_live():
                    if time.monotonic() >= retry_at:
                        self._ensure_reader()
                    if self.bell.wait(self.FALLBACK_SECONDS):
                        self.bell.clear()
                    if self.stop.is_set():
                        break
                    run_locked(self.engine, self.sub_id)
                    if self.reader is not None and not self.reader.is_alive():
                        retry_at = time.monotonic() + min(60.0, 2.0 ** min(self.reader_failures, 6))
                    if time.monotonic() - renewed > self.LEASE / 3:
                        release_lease(self.engine, name)
                        if not take_lease(self.engine, name, self.LEASE):
                            break
                        renewed = time.monotonic()
            except Exception:
                log.exception("live subscription %s failed; following again", self.sub_id)
                self.stop.wait(5.0)
            finally:
                release_lease(self.engine, name)
            if not self._still_live():
                return

    def _still_live(self) -> bool:
        with read_transaction(self.engine) as conn:
            sub = repo.get_subscription(conn, self.sub_id)
            peer = repo.get_peer_by_id(conn, sub.peer_id) if sub is not None else None
        return bool(sub is not None and peer is not None and sub.live and sub.enabled and peer.enabled)


def run_sync_forever(engine: Engine, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Run due subscriptions and follow the live ones until `stop` is set."""
    followers: dict[int, LiveFollower] = {}
    while not stop.is_set():
        try:
            with read_transaction(engine) as conn:
                live = repo.live_subscription_ids(conn)
            for sub_id in live:
                follower = followers.get(sub_id)
                if follower is None or not follower.thread.is_alive():
                    followers[sub_id] = LiveFollower(engine, sub_id, stop)
                    followers[sub_id].start()
            ran = sync_due(engine)
        except Exception:  # e.g. the database is briefly unavailable: wait and try again
            log.exception("sync runner error")
            ran = 0
        if not ran:
            stop.wait(poll_seconds)
