"""The garbage-collector pause used by bulk ingest."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

from accord.core.perf import gc_paused


def test_pauses_nest_and_overlap_across_threads_and_the_collector_resumes():
    assert gc.isenabled()
    inner_started, outer_may_end = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with gc_paused():
            inner_started.set()
            outer_may_end.wait(5)
        seen.append(gc.isenabled())  # the first holder is still inside: still paused

    with gc_paused():
        assert not gc.isenabled()
        t = threading.Thread(target=other)
        t.start()
        inner_started.wait(5)
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
        outer_may_end.set()
        t.join(5)
        assert seen == [False]
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_freeze_loaded_freezes_what_is_loaded_once_per_process():
    # In a fresh process: the test run's own process starts apps (and so freezes) already.
    script = """
import gc
from accord.core.perf import freeze_loaded
tables = [[i] for i in range(50_000)]  # lists are always tracked by the collector
freeze_loaded()
frozen = gc.get_freeze_count()
assert frozen >= 50_000, frozen
later = [[i] for i in range(10_000)]
freeze_loaded()
assert gc.get_freeze_count() == frozen, "a second call froze again"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
