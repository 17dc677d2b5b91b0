"""Helper processes: the one way Accord runs a request's work in other processes (its pure-Python share).

On a node with more than one core, a large request hands part of its work to an idle helper process and does
the rest itself meanwhile (TAXII envelope preparation, batch value lookups). Helpers are plain child
processes (`python -m accord.worker.helpers`) speaking length-prefixed frames over their stdin/stdout: no fork of
a threaded server and no re-import of the host's main module. They start with `accord serve` (or on first
need), run the warm-ups (say, loading the warninglists) and are used only once they report ready, so no request
ever waits for a start-up. Tasks and warm-ups are named in one registry, `accord/worker/helpers.py`, which
imports them plainly: a task takes the request's bytes and returns the answer's bytes, or yields several answers
that the caller reads as they come (Pending.results). Any helper failure is the caller's cue to do the work
itself. Requests carry no secrets: a database is named by its URL without the password (accord.core.db).

Helpers belong to a Pool. The module's default pool (submit, start, shutdown) serves requests: its helpers are
started as programs, so a threaded server is never forked. A single-threaded command may open a pool of its own
for bulk work (`accord import`, accord.store.parallel): its helpers may be forked, so they share what the command
loaded before (the warninglists) instead of loading it again, and may run at a lower priority (niceness) than the
command itself, so that the command's own share of the work, its critical path, takes a core whenever it needs one.
Forked or started, a helper runs the same registry of tasks.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import IO, Protocol

from accord.core.perf import freeze_loaded, gc_paused

log = logging.getLogger("accord.helpers")

MAX_HELPERS = 2  # each request uses one; more only serve concurrent large requests
ANSWER_TIMEOUT = 60.0  # seconds: a helper that takes longer is stopped and the request does the work itself
READY = b"R"
_END = b"D"  # after the answers of a task that streams them
PIPE_BYTES = 1 << 20  # a helper's answers pipe: a streamed answer waits in it until the caller wants it
START_WITH_SERVER = "ACCORD_START_HELPERS"  # Settings.start_helpers: `accord serve` sets it for its API processes
_OK, _FAILED = b"K", b"E"
_HEADER = 8
PROGRAM = "accord.worker.helpers"  # the helpers' program: the registry of tasks, run with `python -m`

Task = Callable[[bytes], bytes | Iterator[bytes]]


class HelperError(RuntimeError):
    """A helper could not answer (it died, or its task raised): the caller does the work itself."""


def _frame(out: IO[bytes], *parts: bytes) -> None:
    out.write(sum(map(len, parts)).to_bytes(_HEADER, "big"))
    for part in parts:
        out.write(part)
    out.flush()


def _read_frame(inp: IO[bytes]) -> bytes | None:
    head = inp.read(_HEADER)
    if len(head) < _HEADER:
        return None
    size = int.from_bytes(head, "big")
    data = inp.read(size)
    return data if len(data) == size else None


def _read_exact(fd: int, size: int, deadline: float) -> bytes | None:
    """`size` bytes from a pipe, None at its end; TimeoutError once `deadline` (monotonic) has passed."""
    chunks: list[bytes] = []
    got = 0
    while got < size:
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            raise TimeoutError
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_answer(fd: int, timeout: float) -> bytes | None:
    """One frame from a helper's stdout within `timeout` seconds (None if the helper ended)."""
    deadline = time.monotonic() + timeout
    head = _read_exact(fd, _HEADER, deadline)
    if head is None:
        return None
    return _read_exact(fd, int.from_bytes(head, "big"), deadline)


class _Process(Protocol):
    """What a pool needs of a helper process (subprocess.Popen, or _Forked)."""

    stdin: IO[bytes] | None
    stdout: IO[bytes] | None

    def poll(self) -> int | None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


_parent_ends: set[int] = set()  # this process's ends of every helper's pipes: a forked helper closes them


class _Forked:
    """A helper forked from this process: it shares what this process loaded, and runs the registry's tasks.

    Only for a single-threaded process (a CLI command): a fork copies one thread, and a lock another thread
    held would stay locked in the child. The child runs no warm-ups (it has what its parent loaded) and ends
    with os._exit, so none of its parent's exit handlers or buffers run twice.
    """

    def __init__(self, niceness: int) -> None:
        registry = importlib.import_module(PROGRAM)  # loaded once here, shared by every forked helper
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the helper
            code = 1
            try:
                for fd in {down_w, up_r, *_parent_ends} - {down_r, up_w}:  # the parent's ends, never its own
                    with contextlib.suppress(OSError):
                        os.close(fd)
                serve(registry.TASKS, (), niceness=niceness, channel=(os.fdopen(down_r, "rb"), os.fdopen(up_w, "wb")))
                code = 0
            finally:
                os._exit(code)
        os.close(down_r)
        os.close(up_w)
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: IO[bytes] | None = os.fdopen(down_w, "wb")
        self.stdout: IO[bytes] | None = os.fdopen(up_r, "rb", buffering=0)

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(PROGRAM, timeout or 0.0)
            time.sleep(0.01)
        return code


class _Helper:
    """One helper process of a pool; used by one request at a time (its lock)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.lock = threading.Lock()
        self.ready = False
        self.proc: _Process
        if pool.fork:
            self.proc = _Forked(pool.niceness)
        else:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, this package's module
                [sys.executable, "-m", PROGRAM, *([f"--niceness={pool.niceness}"] if pool.niceness else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        self.fds = [pipe.fileno() for pipe in (self.proc.stdin, self.proc.stdout) if pipe is not None]
        _parent_ends.update(self.fds)
        if hasattr(fcntl, "F_SETPIPE_SZ") and self.proc.stdout is not None:
            with contextlib.suppress(OSError):  # a smaller pipe only makes a streaming helper wait for its reader
                fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_ready(self) -> bool:
        """Whether start-up is over (never blocks)."""
        if not self.ready and self.proc.stdout is not None:
            readable, _, _ = select.select([self.proc.stdout], [], [], 0)
            if readable:  # the pipe is read unbuffered, here and for answers (select sees what is left)
                self.ready = os.read(self.proc.stdout.fileno(), 1) == READY
        return self.ready

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        _parent_ends.difference_update(self.fds)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a broken pipe to a dead helper
                    pipe.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def helper_count() -> int:
    """How many helper processes the default pool may use: one per extra core, at most MAX_HELPERS."""
    return max(0, min((os.cpu_count() or 1) - 1, MAX_HELPERS))


class Pool:
    """Helper processes, started on first need; submit() hands a task to an idle, ready one.

    `size` None: helper_count(). `fork`: helpers are forked from this process (single-threaded processes only,
    see _Forked) instead of started as programs. `niceness`: how much lower than this process they run.
    As a context manager, the pool's helpers are stopped at its end.
    """

    def __init__(self, size: int | None = None, *, fork: bool = False, niceness: int = 0) -> None:
        self._size = size
        self.fork = fork
        self.niceness = niceness
        self.helpers: list[_Helper] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def size(self) -> int:
        return helper_count() if self._size is None else self._size

    def _take(self) -> _Helper | None:
        """An idle, ready helper (locked for the caller), starting helpers as needed; None if there is none yet."""
        with self._lock:
            for dead in [h for h in self.helpers if not h.alive() and not h.lock.locked()]:
                self.helpers.remove(dead)
                dead.stop()
            if not self.helpers and self.size() > 0:
                self.helpers.extend(_Helper(self) for _ in range(self.size()))
            for helper in self.helpers:
                if helper.lock.acquire(blocking=False):
                    if helper.alive() and helper.check_ready():
                        return helper
                    helper.lock.release()
        return None

    def start(self) -> bool:
        """Start the helper processes if needed, without waiting for them; whether one is idle and ready now.

        A server calls this at start-up, so that its first large request finds a helper ready instead of starting it.
        """
        helper = self._take()
        if helper is None:
            return False
        helper.lock.release()
        return True

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Start the helpers if needed and wait until one is ready (benchmarks, tests); False if there are none."""
        deadline = time.monotonic() + timeout
        while self.size() > 0 and time.monotonic() < deadline:
            if self.start():
                return True
            time.sleep(0.05)
        return False

    def discard(self, helper: _Helper) -> None:
        """Stop a helper that failed or holds an unread answer (it is replaced on a later request)."""
        with self._lock:
            if helper in self.helpers:
                self.helpers.remove(helper)
        helper.stop(kill=True)
        helper.lock.release()

    def shutdown(self) -> None:
        """Stop the helper processes (they are started again on demand)."""
        with self._lock:
            helpers, self.helpers[:] = list(self.helpers), []
        for helper in helpers:
            helper.stop()

    def submit(self, task: str, request: bytes, *, wait: float = 0.0) -> Pending | None:
        """Start `task` on an idle, ready helper; None when there is none within `wait` seconds (the caller then
        does the work itself)."""
        deadline = time.monotonic() + wait
        while (helper := self._take()) is None:
            if self.size() == 0 or time.monotonic() >= deadline:
                return None
            time.sleep(0.01)
        assert helper.proc.stdin is not None
        try:
            _frame(helper.proc.stdin, task.encode(), b"\n", request)
        except OSError:
            log.exception("could not hand a task to a helper process")
            self.discard(helper)
            return None
        return Pending(helper)


_default = Pool()  # a request's helpers: started as programs, at this process's priority
_helpers = _default.helpers  # the same list (tests look at it)
start = _default.start
wait_ready = _default.wait_ready
shutdown = _default.shutdown
atexit.register(_default.shutdown)


def submit(task: str, request: bytes) -> Pending | None:
    """Start `task` on an idle, ready helper of the default pool; None when there is none (the caller does the
    work itself)."""
    return _default.submit(task, request)


class Pending:
    """A task handed to a helper: read its answer (or its stream of answers) once, or abandon it."""

    def __init__(self, helper: _Helper) -> None:
        self._helper: _Helper | None = helper

    def _frame(self, helper: _Helper) -> bytes:
        """The next frame of the answer; on failure the helper is stopped (and replaced later)."""
        assert helper.proc.stdout is not None
        try:
            data = _read_answer(helper.proc.stdout.fileno(), ANSWER_TIMEOUT)
        except TimeoutError:
            helper.pool.discard(helper)  # stuck: stopped, and replaced on a later request
            raise HelperError(f"the helper process did not answer within {ANSWER_TIMEOUT:g} s") from None
        except OSError as exc:
            helper.pool.discard(helper)
            raise HelperError(f"the helper process failed: {exc}") from exc
        if data is None:
            helper.pool.discard(helper)
            raise HelperError("the helper process ended")
        return data

    def _take(self) -> _Helper:
        helper, self._helper = self._helper, None
        if helper is None:
            raise HelperError("this answer was already read")
        return helper

    def result(self) -> bytes:
        """The task's answer; HelperError if the helper failed (a dead helper is replaced later)."""
        helper = self._take()
        data = self._frame(helper)
        helper.lock.release()
        if data[:1] != _OK:
            raise HelperError(data[1:].decode(errors="replace"))
        return data[1:]

    def results(self) -> Generator[bytes, None, None]:
        """The answers of a streaming task, each as soon as the helper sent it; HelperError as for result().

        A caller that stops early leaves answers in the pipe: the helper is then stopped (and replaced later).
        """
        helper = self._take()
        done = False
        try:
            while True:
                data = self._frame(helper)
                if data[:1] == _OK:
                    yield data[1:]
                    continue
                done = True
                helper.lock.release()
                if data[:1] == _END:
                    return
                raise HelperError(data[1:].decode(errors="replace"))
        except HelperError:
            done = True  # the helper was discarded, or the task failed (the helper stays usable)
            raise
        finally:
            if not done:
                helper.pool.discard(helper)

    def abandon(self) -> None:
        """Never read the answer: the helper is stopped (its pipe would hold a stale answer)."""
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.pool.discard(helper)


def serve(
    tasks: Mapping[str, Task],
    warmups: Sequence[Callable[[], object]],
    *,
    niceness: int = 0,
    channel: tuple[IO[bytes], IO[bytes]] | None = None,
) -> None:
    """The helper process: lower its priority by `niceness`, run the warm-ups, report ready, then answer each frame
    "task\\nrequest" by `tasks`. It reads and answers on stdin/stdout, or on `channel` (a forked helper)."""
    if channel is None:
        inp, out = sys.stdin.buffer, sys.stdout.buffer
        sys.stdout = sys.stderr  # nothing but frames may reach the parent on stdout
    else:
        inp, out = channel
    if niceness:
        os.nice(niceness)
    for warmup in warmups:
        try:
            warmup()
        except Exception:  # a failed warm-up only costs the first request its time
            log.exception("helper warm-up %s failed", getattr(warmup, "__qualname__", warmup))
    if warmups:  # a forked helper has none: a collection now would only walk (and copy) its parent's memory
        freeze_loaded()  # what the warm-ups loaded lives as long as the helper
    try:
        out.write(READY)
        out.flush()
    except BrokenPipeError:  # the parent is gone already
        return
    while True:
        data = _read_frame(inp)
        if data is None:
            return
        name, _, request = data.partition(b"\n")
        try:
            # A task is bulk work over acyclic data (parsed objects, rows, answers): collector passes over it
            # would be pure cost.
            with gc_paused():
                task = tasks.get(name.decode(errors="replace"))
                if task is None:
                    raise LookupError(f"not a helper task: {name.decode(errors='replace')!r}")
                answer = task(request)
                if isinstance(answer, bytes):
                    _frame(out, _OK, answer)
                else:  # a streaming task: each answer goes out as soon as it is ready, then the end
                    for part in answer:
                        _frame(out, _OK, part)
                    _frame(out, _END)
        except Exception as exc:  # the parent falls back to doing the work itself
            log.exception("helper task failed")
            _frame(out, _FAILED, f"{type(exc).__name__}: {exc}".encode())
