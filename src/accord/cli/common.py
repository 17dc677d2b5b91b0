"""Shared CLI plumbing: the database boundary and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from sqlalchemy import Connection

from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import AccordError

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    """Print one line on stderr and exit non-zero."""
    sys.stderr.write(f"accord: error: {message}\n")
    raise SystemExit(code)


@contextmanager
def unit_of_work() -> Iterator[Connection]:
    """One CLI command's transaction (committed at the end, rolled back on error)."""
    with transaction(get_engine()) as conn:
        yield conn


@contextmanager
def reading() -> Iterator[Connection]:
    """A read-only snapshot for commands that only look."""
    with read_transaction(get_engine()) as conn:
        yield conn


__all__ = ["AccordError", "err", "fail", "out", "reading", "unit_of_work"]
