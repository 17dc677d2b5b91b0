"""Envelope preparation across cores: a helper process prepares part of a large envelope while this one does the rest.

Preparing (validation, canonical bytes, digest, value-index rows) is pure Python and most of what a POST costs.
On a node with more than one core, a large envelope is split: the tail goes to an idle helper process as JSON,
this process prepares the head meanwhile, and the prepared tail comes back in order, so versioning decisions
are exactly those of a sequential ingest.

Helpers are plain child processes (`python -m accord.taxii.parallel`) speaking length-prefixed frames over their
stdin/stdout: no fork of a threaded server and no re-import of the host's main module. They are started on
first need and used only once they report ready, so no request ever waits for a start-up; any helper failure
falls back to preparing in this process.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import orjson

from accord.core.settings import get_settings
from accord.store.prepare import Prepared, Refused, pack, prepare_all, unpack

log = logging.getLogger("accord.taxii")

MIN_OBJECTS = 400  # below this, shipping objects to another process costs more than it saves
MAX_HELPERS = 2  # each request uses one; more only serve concurrent large POSTs (and each holds ~60 MB)
READY = b"R"
_HEADER = 8


def _frame(out: IO[bytes], data: bytes) -> None:
    out.write(len(data).to_bytes(_HEADER, "big"))
    out.write(data)
    out.flush()


def _read_frame(inp: IO[bytes]) -> bytes | None:
    head = inp.read(_HEADER)
    if len(head) < _HEADER:
        return None
    size = int.from_bytes(head, "big")
    data = inp.read(size)
    return data if len(data) == size else None


class _Helper:
    """One helper process; used by one request at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = False
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "accord.taxii.parallel"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_ready(self) -> bool:
        """Whether start-up is over (never blocks)."""
        if not self.ready and self.proc.stdout is not None:
            readable, _, _ = select.select([self.proc.stdout], [], [], 0)
            if readable:
                self.ready = self.proc.stdout.read(1) == READY
        return self.ready

    def send(self, request: bytes) -> None:
        assert self.proc.stdin is not None
        _frame(self.proc.stdin, request)

    def receive(self) -> list[Prepared | Refused]:
        assert self.proc.stdout is not None
        data = _read_frame(self.proc.stdout)
        if data is None:
            raise RuntimeError("the helper process ended")
        return unpack(data)

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a broken pipe to a dead helper
                    pipe.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_helpers: list[_Helper] = []
_helpers_lock = threading.Lock()


def helper_count() -> int:
    """How many helper processes this process may use: one per extra core, at most MAX_HELPERS."""
    return max(0, min((os.cpu_count() or 1) - 1, MAX_HELPERS))


def _take_helper() -> _Helper | None:
    """An idle, ready helper (locked for the caller), starting helpers as needed; None if there is none yet."""
    with _helpers_lock:
        for dead in [h for h in _helpers if not h.alive() and not h.lock.locked()]:
            _helpers.remove(dead)
            dead.stop()
        if not _helpers and helper_count() > 0:
            _helpers.extend(_Helper() for _ in range(helper_count()))
        for helper in _helpers:
            if helper.lock.acquire(blocking=False):
                if helper.alive() and helper.check_ready():
                    return helper
                helper.lock.release()
    return None


def shutdown() -> None:
    """Stop the helper processes (they are started again on demand)."""
    with _helpers_lock:
        helpers, _helpers[:] = list(_helpers), []
    for helper in helpers:
        helper.stop()


atexit.register(shutdown)


def _discard(helper: _Helper) -> None:
    with _helpers_lock:
        if helper in _helpers:
            _helpers.remove(helper)
    helper.stop(kill=True)
    helper.lock.release()


def prepare_objects(objects: list[Any], *, parallel: bool = True) -> list[Prepared | Refused]:
    """Every object of an envelope prepared for the store, in order (in part by a helper when large enough)."""
    settings = get_settings()
    max_bytes, index = settings.max_object_bytes, settings.value_index
    helper = _take_helper() if parallel and len(objects) >= MIN_OBJECTS else None
    if helper is None:
        return prepare_all(objects, max_bytes, index=index)
    # The head stays here: this process also pays for sending the tail and unpickling what comes back.
    split = len(objects) // 2
    try:
        helper.send(orjson.dumps([max_bytes, index, objects[split:]]))
    except (OSError, TypeError, orjson.JSONEncodeError):
        log.exception("could not hand objects to a helper process; preparing them here")
        _discard(helper)
        return prepare_all(objects, max_bytes, index=index)
    try:
        head = prepare_all(objects[:split], max_bytes, index=index)
    except BaseException:
        _discard(helper)  # its answer will never be read
        raise
    try:
        tail = helper.receive()
    except (OSError, RuntimeError, pickle.UnpicklingError):
        log.exception("a helper process failed; preparing its share here")
        _discard(helper)
        return head + prepare_all(objects[split:], max_bytes, index=index)
    helper.lock.release()
    return head + tail


def prepare_in_batches(objects: list[Any]) -> Iterator[Prepared | Refused]:
    """prepare_objects over import_batch_size slices, so a huge envelope is never held prepared all at once."""
    size = get_settings().import_batch_size
    for start in range(0, len(objects), size):
        yield from prepare_objects(objects[start : start + size])


def serve_helper() -> None:
    """The helper process: answer each frame [max_bytes, index, objects] with the pickled prepared objects."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the parent on stdout
    out.write(READY)
    out.flush()
    while True:
        data = _read_frame(inp)
        if data is None:
            return
        max_bytes, index, objects = orjson.loads(data)
        _frame(out, pack(prepare_all(objects, max_bytes, index=index)))


if __name__ == "__main__":
    serve_helper()
