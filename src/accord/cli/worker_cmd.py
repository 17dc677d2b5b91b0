"""`accord worker`: run queued jobs, due feed pulls and due peer subscriptions until interrupted."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from accord.cli.common import out
from accord.core.db import get_engine


def worker_cmd(
    once: bool = typer.Option(
        False, "--once", help="run the jobs queued now, pull due feeds and run due subscriptions, then exit"
    ),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="seconds between queue polls when idle"),
) -> None:
    """Run queued jobs (large TAXII envelopes), pull due feeds and run due peer subscriptions until interrupted."""
    from accord.core.settings import get_settings
    from accord.feeds.tasks import pull_due
    from accord.worker.runner import run_forever, run_pending

    engine = get_engine()
    schedule = get_settings().feed_schedule_seconds
    if once:
        out.print(f"ran {run_pending(engine, 1_000_000)} job(s)")
        out.print(f"pulled {pull_due(engine)} due feed(s)")
        from accord.worker.sync import sync_due

        out.print(f"ran {sync_due(engine)} due peer subscription(s)")
        return
    stop = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    every = f"every {schedule:g} s" if schedule > 0 else "never (ACCORD_FEED_SCHEDULE_SECONDS=0)"
    out.print(f"worker running (due feeds pulled {every}); Ctrl-C to stop")
    run_forever(engine, stop, poll)
    out.print("worker stopped")
