"""Scheduled feed pulls run by the job runner (`accord serve`'s thread and `accord worker`) against a real server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, select

from accord.core.db import transaction
from accord.feeds.pull import pull_feed
from accord.models.feeds import feed
from accord.worker import schedule
from accord.worker.runner import run_forever
from tests.integration.feeds.conftest import add, counts, pull_rows
from tests.integration.feeds.server import FeedServer


class Exploding:
    """A periodic task that always fails, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, _engine: Engine) -> None:
        self.calls += 1
        raise RuntimeError("boom")


@pytest.fixture
def exploding() -> Iterator[Exploding]:
    task = Exploding()
    schedule.register_periodic("test.exploding", task)
    yield task
    schedule.unregister_periodic("test.exploding")


def _feed_status(engine: Engine) -> dict[str, tuple[str | None, str | None]]:
    with transaction(engine) as conn:
        return {r.name: (r.last_status, r.last_error) for r in conn.execute(select(feed))}


def _requested(server: FeedServer, path: str) -> int:
    return sum(1 for requested, _ in server.requests if requested == "/" + path)


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the runner did not get there"
        time.sleep(0.05)


def test_runner_pulls_due_feeds_and_not_the_others_and_survives_failures(
    engine: Engine, node: dict, server: FeedServer, exploding: Exploding
) -> None:
    server.files["recent.txt"] = b"198.51.100.99\n"
    add(engine, "due", server.url("blocklist.txt"), "text", every_minutes=60)
    add(engine, "recent", server.url("recent.txt"), "text", every_minutes=60)
    add(engine, "broken", server.url("missing.txt"), "text", every_minutes=60)
    add(engine, "manual", server.url("blocklist.txt"), "text")  # no interval: pulled only on demand
    assert pull_feed(engine, "recent").status == "ok"  # pulled just now: not due for an hour
    recent_requests = _requested(server, "recent.txt")
    before = counts(engine)

    stop = threading.Event()
    runner = threading.Thread(target=run_forever, args=(engine, stop, 0.05, 0.2), daemon=True)
    runner.start()
    try:
        # The failing feed and the failing task are retried each interval; the runner keeps going.
        _wait_for(lambda: len(pull_rows(engine)) >= 3 and exploding.calls >= 3)
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()

    pulled = [r.feed_id for r in pull_rows(engine)]
    status = _feed_status(engine)
    assert status["due"] == ("ok", None)
    assert status["broken"][0] == "error"
    assert "404" in (status["broken"][1] or "")
    assert status["manual"] == (None, None)
    assert _requested(server, "recent.txt") == recent_requests
    # Each due feed was pulled once: afterwards it is not due for another hour, however often the runner looks.
    assert sorted(pulled) == [1, 2, 3]
    assert counts(engine)[0] > before[0]


def test_one_process_runs_the_schedule_per_interval(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "due", server.url("blocklist.txt"), "text", every_minutes=60)
    assert schedule.take_lease(engine, "test.lease", 60, holder="one")
    assert not schedule.take_lease(engine, "test.lease", 60, holder="two")
    assert schedule.take_lease(engine, "test.expired", 0, holder="one")
    assert schedule.take_lease(engine, "test.expired", 60, holder="two")
    # A second runner (another API process, or `accord worker`) finds the lease taken and leaves the feeds alone.
    assert schedule.run_periodic(engine, 60) == ["feeds.pull_due"]
    assert schedule.run_periodic(engine, 60) == []
    assert len(pull_rows(engine)) == 1


def test_a_lease_of_a_process_that_ended_is_taken_over(engine: Engine) -> None:
    """A process killed mid-task leaves its lease behind: on its own host, a live process takes it over at once."""
    import subprocess
    import sys

    host = schedule._HOLDER.rpartition(":")[0]
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True, text=True
    )
    dead = f"{host}:{int(ended.stdout)}"
    assert schedule.take_lease(engine, "test.killed", 3600, holder=dead)
    assert schedule.take_lease(engine, "test.killed", 3600, holder="mine")
    # A live holder keeps it, and so does one of another host (whose processes cannot be checked from here).
    alive = f"{host}:{os.getpid()}"
    assert schedule.take_lease(engine, "test.alive", 3600, holder=alive)
    assert not schedule.take_lease(engine, "test.alive", 3600, holder="mine")
    assert schedule.take_lease(engine, "test.elsewhere", 3600, holder="elsewhere:1")
    assert not schedule.take_lease(engine, "test.elsewhere", 3600, holder="mine")


def test_schedule_zero_never_pulls(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "due", server.url("blocklist.txt"), "text", every_minutes=60)
    disabled = schedule.Schedule(engine, 0)
    assert disabled.tick() == []
    assert disabled.seconds_left() == float("inf")
    assert pull_rows(engine) == []


def test_the_server_thread_pulls_due_feeds(
    engine: Engine, node: dict, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from accord.api.app import create_app
    from accord.core import settings as core_settings

    monkeypatch.setenv("ACCORD_RUN_JOBS", "1")
    monkeypatch.setenv("ACCORD_FEED_SCHEDULE_SECONDS", "0.2")
    core_settings.get_settings.cache_clear()
    add(engine, "due", server.url("blocklist.txt"), "text", every_minutes=60)
    with TestClient(create_app()):  # runs the lifespan, which starts the job runner thread
        _wait_for(lambda: len(pull_rows(engine)) == 1)
    assert _feed_status(engine)["due"] == ("ok", None)


def test_worker_once_pulls_due_feeds(
    engine: Engine, node: dict, server: FeedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.cli.cli_runner import run_cli

    add(engine, "due", server.url("blocklist.txt"), "text", every_minutes=60)
    add(engine, "manual", server.url("blocklist.txt"), "text")
    result = run_cli(capsys, monkeypatch, "worker", "--once")
    assert result.code == 0, result.err
    assert "pulled 1 due feed(s)" in result.out
    assert _feed_status(engine) == {"due": ("ok", None), "manual": (None, None)}
