"""Writes value-index rows for stored object versions (placeholder until the value-index table lands)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from accord.correlate.values import IndexValue


def index_rows(conn: Connection, rows: Sequence[tuple[int, tuple[IndexValue, ...]]]) -> None:
    """Index the values of newly stored versions (seq, values) in the caller's transaction."""
    del conn, rows
