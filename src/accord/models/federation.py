"""Federation: a peer's settings and health (columns of `peer`), its subscriptions, and per-version provenance."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from accord.models.base import BigKey, metadata

# A pull or push subscription of a peer: which remote collection meets which local one, how often, and where it
# stands. A pull's `watermark` is the remote `date_added` of the last page committed (it advances in the page's
# own transaction); its `stream_cursor` is the last event of an Accord peer's stream applied (removals, --live).
# A push's `position` is the last local collection tick sent and acknowledged.
subscription = Table(
    "peer_subscription",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("peer_id", Integer, ForeignKey("peer.id", ondelete="CASCADE"), nullable=False),
    Column("direction", String(4), nullable=False),  # pull | push
    Column("remote_collection", String(200), nullable=False),
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="CASCADE"), nullable=False),
    Column("live", Boolean, nullable=False, default=False),
    Column("every_seconds", Integer, nullable=True),  # NULL: the node's default sync interval
    Column("enabled", Boolean, nullable=False, default=True),
    Column("watermark", String(40), nullable=True),
    # Whether the last pull stopped mid-way (more pages followed): the next one asks again from just before the
    # watermark, since objects sharing its date_added may not all have come yet (duplicates are no-ops).
    Column("watermark_partial", Boolean, nullable=False, default=False),
    Column("stream_cursor", Text, nullable=True),
    Column("position", BigInteger, nullable=False, default=0),
    Column("created_us", BigInteger, nullable=False),
    # Health: the last attempt and success, consecutive failures (exponential backoff) and running totals.
    Column("last_run_us", BigInteger, nullable=True),
    Column("last_ok_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_run_us", BigInteger, nullable=True),
    Column("received", BigInteger, nullable=False, default=0),
    Column("stored", BigInteger, nullable=False, default=0),
    Column("duplicates", BigInteger, nullable=False, default=0),
    Column("refused", BigInteger, nullable=False, default=0),
    Column("removed", BigInteger, nullable=False, default=0),
    Column("sent", BigInteger, nullable=False, default=0),
    UniqueConstraint("peer_id", "direction", "remote_collection", "collection_id"),
)

# Where each version received from a peer came from (F2 and provenance): the link (also stix_object.peer_id),
# the subscription and remote collection, and when it arrived.
receipt = Table(
    "object_receipt",
    metadata,
    Column("object_seq", BigKey, ForeignKey("stix_object.seq", ondelete="CASCADE"), primary_key=True),
    Column("peer_id", Integer, ForeignKey("peer.id", ondelete="CASCADE"), nullable=False),
    Column("subscription_id", Integer, ForeignKey("peer_subscription.id", ondelete="SET NULL"), nullable=True),
    Column("remote_collection", String(200), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Index("ix_object_receipt_subscription", "subscription_id", "object_seq"),
)
