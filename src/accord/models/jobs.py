"""The database-backed job queue run by `accord worker` (or inside `accord serve`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from accord.models.base import metadata

job = Table(
    "job",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(10), nullable=False, default="queued"),  # queued | running | done | failed
    Column("run_after_us", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_job_queue", "status", "run_after_us"),
)

taxii_status = Table(
    "taxii_status",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("collection_id", Integer, nullable=False),
    Column("org_id", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # pending | complete
    Column("request_us", BigInteger, nullable=False),
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False, default=0),
    Column("failure_count", Integer, nullable=False, default=0),
    Column("pending_count", Integer, nullable=False, default=0),
    Column("detail", LargeBinary, nullable=False),  # orjson {successes, failures, pendings}
)
