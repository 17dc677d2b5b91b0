"""External intelligence feeds (MISP, CSV, text lists, STIX bundles, TAXII) and the record of each pull."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from accord.models.base import metadata

feed = Table(
    "feed",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("format", String(10), nullable=False),  # misp | csv | text | stix | taxii
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="SET NULL"), nullable=True),
    # The local organisation the feed belongs to; its link (peer, kind 'feed', local_org_id = org_id) is what
    # the content arrives over, and its source record (a remote org) owns what names no other source.
    # Nullable on SQLite only, where a column cannot be added NOT NULL without a default (migration 0008).
    Column("org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("peer_id", Integer, ForeignKey("peer.id"), nullable=False),
    Column("source_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("item_type", String(50), nullable=True),  # text/csv: the value type, NULL = detect per line
    Column("csv_columns", String(500), nullable=True),  # "value=2,type=1,comment=3" (1-based)
    Column("delimiter", String(5), nullable=False, default=","),
    Column("skip_header", Boolean, nullable=False, default=False),
    Column("tlp", String(20), nullable=True),  # default TLP for content without its own marking
    Column("every_minutes", Integer, nullable=True),  # NULL = pulled only on demand
    Column("taxii_collection", String(200), nullable=True),
    Column("username", String(200), nullable=True),
    # A credential for the remote server, encrypted with the node key (accord.core.keys, migration 0011);
    # it is never shown, logged or audited.
    Column("password", Text, nullable=True),
    Column("timeout_seconds", Float, nullable=False, default=30.0),
    Column("max_bytes", BigInteger, nullable=False, default=104_857_600),
    Column("enabled", Boolean, nullable=False, default=True),
    # Conditional-request and change-detection state of the last successful pull.
    Column("etag", String(500), nullable=True),
    Column("last_modified", String(100), nullable=True),
    Column("content_hash", String(64), nullable=True),
    Column("cursor", String(100), nullable=True),  # TAXII: added_after for the next pull
    Column("last_pull_us", BigInteger, nullable=True),
    Column("last_status", String(15), nullable=True),  # ok | error | not-modified
    Column("last_error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
)

feed_pull = Table(
    "feed_pull",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feed.id", ondelete="CASCADE"), nullable=False),
    Column("started_us", BigInteger, nullable=False),
    Column("finished_us", BigInteger, nullable=False),
    Column("status", String(15), nullable=False),  # ok | error | not-modified
    Column("http_status", Integer, nullable=True),
    Column("fetched_bytes", BigInteger, nullable=False, default=0),
    Column("stored", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("refused", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Index("ix_feed_pull_feed", "feed_id", "id"),
)

# What a feed has already delivered, by key: MISP event uuid -> the event timestamp pulled.
feed_mark = Table(
    "feed_mark",
    metadata,
    Column("feed_id", Integer, ForeignKey("feed.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("stamp", String(50), nullable=False),
)
