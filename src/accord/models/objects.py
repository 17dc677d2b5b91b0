"""STIX object versions, their collection memberships, and the node clock that orders them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
)

from accord.models.base import BigKey, metadata

# One row per object version. seq is the version's date_added in microseconds: unique and strictly increasing,
# allocated under the node_clock row lock so that commit order equals seq order (no keyset gaps).
stix_object = Table(
    "stix_object",
    metadata,
    Column("seq", BigKey, primary_key=True, autoincrement=False),
    Column("id", String(300), nullable=False),
    Column("type", String(250), nullable=False),
    Column("version", String(27), nullable=False),  # normalised modified, else created, else ""
    Column("created", String(27), nullable=True),
    Column("spec_version", String(8), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("is_latest", Boolean, nullable=False),
    Column("owner_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("tlp", SmallInteger, nullable=True),  # accord.stix.markings.Tlp; NULL = unmarked (R5)
    Column("peer_id", Integer, ForeignKey("peer.id"), nullable=True),  # provenance; NULL = local
    Column("body_hash", LargeBinary(16), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index("uq_stix_object_id_version", "id", "version", unique=True),
    Index("ix_stix_object_latest_seq", "is_latest", "seq"),
    Index("ix_stix_object_type_seq", "type", "seq"),
)

# Membership of an object version in a collection. tick is the version's date_added in that collection:
# globally unique and increasing, so (collection_id, tick) is the TAXII keyset.
collection_object = Table(
    "collection_object",
    metadata,
    Column("tick", BigKey, primary_key=True, autoincrement=False),
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="CASCADE"), nullable=False),
    Column("object_seq", BigInteger, ForeignKey("stix_object.seq", ondelete="CASCADE"), nullable=False),
    Column("added_by_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Index("uq_collection_object_member", "collection_id", "object_seq", unique=True),
    Index("ix_collection_object_object", "object_seq", "collection_id", "added_by_org_id"),
    Index("ix_collection_object_keyset", "collection_id", "tick"),
)

node_clock = Table(
    "node_clock",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("last_us", BigInteger, nullable=False),
)

node_setting = Table(
    "node_setting",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", String(2000), nullable=False),
)
