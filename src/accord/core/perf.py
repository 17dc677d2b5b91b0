"""Process-level switches for bulk work."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
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
