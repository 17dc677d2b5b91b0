"""`accord worker`: run queued jobs until interrupted."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from accord.cli.common import out
from accord.core.db import get_engine


def worker_cmd(
    once: bool = typer.Option(False, "--once", help="run the jobs queued now, then exit"),
    poll: float = typer.Option(1.0, "--poll", min=0.05, help="seconds between queue polls when idle"),
) -> None:
    """Run queued jobs (large TAXII envelopes, feed pulls, syncs) until interrupted."""
    from accord.worker.runner import run_forever, run_pending

    engine = get_engine()
    if once:
        out.print(f"ran {run_pending(engine, 1_000_000)} job(s)")
        return
    stop = threading.Event()

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    out.print("worker running; Ctrl-C to stop")
    run_forever(engine, stop, poll)
    out.print("worker stopped")
