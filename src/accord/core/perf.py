"""Process-level switches for bulk work."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while bulk work allocates millions of acyclic objects.

    Ingest builds parsed objects, row tuples and bytes, none of which form reference cycles; with the
    collector on, its passes walk every live object again and again and cost a third of a bulk import.
    Reference counting still frees everything. Pauses nest and may overlap across threads: the collector
    resumes when the last holder leaves, and only if it was running when the first one came.
    """
    global _holders, _resume
    with _lock:
        if _holders == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _resume:
                gc.enable()


_frozen = False


def freeze_loaded() -> None:
    """Move everything alive now out of the cyclic collector's sight, for the rest of the process.

    Call once start-up has loaded the large, never-freed tables (warninglists, the public suffix list):
    otherwise every full collection walks them again, a pause landing in the middle of a request.
    Objects that are garbage already are collected first. Only the first call freezes: a process that starts
    several apps (a test run) keeps the later ones' leftovers collectable.
    """
    global _frozen
    with _lock:
        if _frozen:
            return
        _frozen = True
    gc.collect()
    gc.freeze()


LARGE_BODY_BYTES = 8 * 1024 * 1024  # a request or job this large asks for release_memory() once it is over
_trim_lock = threading.Lock()
_trim_pending = False


def _malloc_trim() -> bool:
    """Give the C allocator's free pages back to the system (glibc's malloc_trim); False where there is none."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True


def release_memory() -> bool:
    """Collect garbage, then return freed heap to the system: after a very large request, the tens or hundreds of
    megabytes its parsed objects took stay in the process otherwise (glibc keeps freed pages in its arenas, most of
    all in the worker threads' own). True if the allocator was trimmed."""
    gc.collect()
    return _malloc_trim()


def release_memory_soon(delay_s: float = 2.0) -> None:
    """release_memory() in a moment, from a thread of its own, once the large request that asks is over (its
    buffers freed by then); requests asking meanwhile share the one release."""
    global _trim_pending

    with _trim_lock:
        if _trim_pending:
            return
        _trim_pending = True

    def run() -> None:
        global _trim_pending
        with _trim_lock:
            _trim_pending = False
        release_memory()

    timer = threading.Timer(delay_s, run)
    timer.daemon = True
    timer.start()


_M_ARENA_MAX = -8  # glibc's mallopt parameter number
SERVER_ARENAS = 2  # malloc arenas of a server process: its thread pool shares them instead of one arena a thread
TRIM_EVERY_S = 30.0


def limit_malloc_arenas(arenas: int = SERVER_ARENAS) -> bool:
    """Bound the C allocator's arenas (glibc): with one arena per thread, the server's forty pool threads each
    kept the freed pages of the requests they had served, and the heap grew under sustained concurrent writes
    (bench/bench_memory.py). False where the allocator is not glibc's."""
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))


def start_memory_trimmer(every_s: float = TRIM_EVERY_S) -> Callable[[], None] | None:
    """Give freed heap back to the system every `every_s` seconds from a thread of its own (a malloc_trim(0) takes
    milliseconds); the function that stops it, or None where there is no allocator to trim."""
    if not _malloc_trim():
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            _malloc_trim()

    threading.Thread(target=loop, name="accord-malloc-trim", daemon=True).start()
    return stop.set
