"""The append-only, hash-chained audit log."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table, Text

from accord.models.base import BigKey, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigKey, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(400), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(400), nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
