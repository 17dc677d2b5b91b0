"""Extraction drafts: what `POST /api/v1/extract` found in a document, kept for review before publishing."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from accord.models.base import metadata

extraction_drafts = Table(
    "extraction_drafts",
    metadata,
    Column("id", String(36), primary_key=True),  # uuid4: not guessable, not a count of other orgs' drafts
    Column("org_id", Integer, ForeignKey("org.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("title", String(500), nullable=False),
    Column("findings", LargeBinary, nullable=False),  # orjson list of findings
    Column("bundle", LargeBinary, nullable=False),  # orjson STIX 2.1 bundle
    Column("status", String(10), nullable=False, default="draft"),  # draft | published
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="SET NULL"), nullable=True),
    Column("published_us", BigInteger, nullable=True),
    Index("ix_extraction_drafts_org", "org_id", "created_us"),
)
