"""Collections (TAXII collections) and who may read or write them; links (peers, feeds)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from accord.models.base import metadata

collection = Table(
    "collection",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("alias", String(100), nullable=False, unique=True),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_us", BigInteger, nullable=False),
)

collection_grant = Table(
    "collection_grant",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("mode", String(5), nullable=False),
    Column("org_id", Integer, ForeignKey("org.id", ondelete="CASCADE"), nullable=True),
    Column("group_id", Integer, ForeignKey("sharing_group.id", ondelete="CASCADE"), nullable=True),
    CheckConstraint("mode in ('read', 'write')", name="mode"),
    CheckConstraint("(org_id IS NULL) <> (group_id IS NULL)", name="one_grantee"),
    UniqueConstraint("collection_id", "mode", "org_id", "group_id"),
)

# A link: what content arrives over (stix_object.peer_id). `kind` says whether it is a peer (another node) or a
# feed's link (accord.feeds): peer listings leave feed links out. A feed's link is named "feed:<feed name>".
peer = Table(
    "peer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("url", Text, nullable=False, default=""),
    # R1/R4: what arrives over this link is readable at every TLP by this local organisation, AMBER by no other.
    Column("local_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False, default="peer", server_default="peer"),  # peer | feed
    # A peer's settings (accord.federation; feeds keep theirs in `feed`). `secret` is the bearer token it is
    # reached with, encrypted with the node key (accord.core.keys): never shown, logged or stored in plain text.
    Column("secret", Text, nullable=True),
    Column("username", String(200), nullable=True),  # with one, the secret is an HTTP Basic password
    Column("allow_private", Boolean, nullable=False, default=False, server_default=false()),
    Column("public_key", String(200), nullable=True),  # its Ed25519 key: its responses must be signed with it
    # The record of the peer's organisation: it owns what names no organisation, and it is whom a push reads as
    # (F1: what the peer's own sync account here would read).
    Column("source_org_id", Integer, ForeignKey("org.id"), nullable=True),
    Column("enabled", Boolean, nullable=False, default=True, server_default=true()),
    Column("timeout_seconds", Float, nullable=False, default=120.0, server_default="120"),
)

# The organisations a link speaks for (W1): a peer node's organisations, a feed's source records.
peer_org = Table(
    "peer_org",
    metadata,
    Column("peer_id", Integer, ForeignKey("peer.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", Integer, ForeignKey("org.id", ondelete="CASCADE"), primary_key=True),
)
