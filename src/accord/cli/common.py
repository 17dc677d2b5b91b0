"""Shared CLI plumbing: the database boundary and one-line errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.core.errors import AccordError

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Connection, Engine

    out: Console  # standard output, for people
    err: Console  # standard error


def __getattr__(name: str) -> Any:
    """`out` and `err`, made on first use: a command that prints no rich output (`extract --format json`) starts
    without loading rich (bench_extract_startup.py)."""
    if name not in ("out", "err"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    console = globals()[name] = Console(stderr=name == "err")
    return console


def fail(message: str, code: int = 1) -> None:
    """Print one line on stderr and exit non-zero."""
    sys.stderr.write(f"accord: error: {message}\n")
    raise SystemExit(code)


def read_secret(env: str | None, path: Path | None, flag: str) -> str | None:
    """A secret from an environment variable or a file (`--FLAG-env` / `--FLAG-file`), never from the command line:
    shells keep it in their history."""
    if env and path:
        fail(f"give --{flag}-env or --{flag}-file, not both")
    if env:
        value = os.environ.get(env)
        if not value or not value.strip():
            fail(f"environment variable {env} is not set or empty")
        return str(value).strip()
    if path:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the {flag} file {path}: {exc.strerror if isinstance(exc, OSError) else exc}")
            raise  # unreachable: fail exits
        if not text:
            fail(f"the {flag} file {path} is empty")
        return text
    return None


def span(us: int) -> str:
    """A duration in microseconds, roughly: '45s', '12m', '5h', '3d'."""
    s = max(0, us // 1_000_000)
    if s < 120:
        return f"{s}s"
    if s < 7_200:
        return f"{s // 60}m"
    if s < 172_800:
        return f"{s // 3600}h"
    return f"{s // 86_400}d"


def writing_engine() -> Engine:
    """The engine of a command that may store intelligence, with what reacts to new intelligence installed.

    Joint intelligence requirements match, and received joint work is projected into the case tables, on every
    ingest through the store's after-write hooks; every CLI path that may store objects takes its engine here
    (the server and the worker install them too).
    """
    from accord.core.db import get_engine  # here: commands without a database start faster
    from accord.joint import (
        pir,  # noqa: F401  (registers the matching of new intelligence on ingest)
        projection,  # noqa: F401  (registers the projection of received joint work)
    )

    return get_engine()


@contextmanager
def unit_of_work() -> Iterator[Connection]:
    """One CLI command's transaction (committed at the end, rolled back on error)."""
    from accord.core.db import transaction

    with transaction(writing_engine()) as conn:
        yield conn


@contextmanager
def reading() -> Iterator[Connection]:
    """A read-only snapshot for commands that only look."""
    from accord.core.db import get_engine, read_transaction

    with read_transaction(get_engine()) as conn:
        yield conn


__all__ = ["AccordError", "err", "fail", "out", "read_secret", "reading", "span", "unit_of_work"]
