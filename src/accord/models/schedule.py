"""Leases of periodic worker tasks, so that one process of the node runs each task per interval."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from accord.models.base import metadata

worker_lease = Table(
    "worker_lease",
    metadata,
    Column("name", String(100), primary_key=True),  # the periodic task, e.g. "feeds.pull_due"
    Column("holder", String(100), nullable=False),  # host:pid of the process that took it last
    Column("until_us", BigInteger, nullable=False),  # no other process runs the task before this time
)
