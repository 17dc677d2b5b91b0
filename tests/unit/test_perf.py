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


def test_release_memory_gives_freed_heap_back_to_the_system():
    # In a fresh process: allocate 200 MB in pieces past Python's small-object allocator (as a parsed envelope's
    # dicts and strings are) in a worker thread (its own glibc arena, as a request in the server's thread pool),
    # free all but every 64th piece (what outlives a request: caches, pooled rows), and read the heap (RssAnon)
    # before and after the release.
    script = """
import threading
from pathlib import Path
from accord.core.perf import release_memory

def heap_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

kept_alive = []

def work():
    pieces = [b"x" * 1000 + i.to_bytes(4, "big") for i in range(200_000)]
    kept_alive.extend(pieces[::64])
    del pieces

start = heap_mb()
t = threading.Thread(target=work)
t.start()
t.join()
kept = heap_mb()
assert release_memory() is True
after = heap_mb()
print(start, kept, after)
assert kept - start > 100, (start, kept)  # the allocator kept what the thread freed ...
assert after - start < (kept - start) / 2, (start, kept, after)  # ... until released
"""
    if not sys.platform.startswith("linux"):
        return
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
