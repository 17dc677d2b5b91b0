"""STIX object versions, their collection memberships, and the node clock that orders them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    and_,
    true,
)
from sqlalchemy.sql import FromClause

from accord.models.base import BigKey, metadata
from accord.stix.ids import id_key

# One row per object version. seq is the version's date_added in microseconds: unique and strictly increasing,
# allocated under the node_clock row lock so that commit order equals seq order (no keyset gaps).
# Objects are found by id through id_key (accord.stix.ids.id_key), a 64-bit digest of the id: its index is a
# quarter the size of one on the ids, which are random keys, so a stored batch dirties a quarter of the pages.
# Queries name both (id_is, id_in, same_object below).
# An object is held in copies: each (owner_org_id, peer_id) holding an id has its own versions (W3: an SCO names
# a value, not a producer, and what one organisation holds never decides another's write). (id, owner_org_id,
# peer_id, version) is unique: the store decides what is new, a duplicate or a conflict with its writers
# serialised (accord.store.service), and no other code inserts versions. sole_copy is false on every version of
# an id that more than one copy holds: readers then see one copy per id (accord.sharing.policy).
stix_object = Table(
    "stix_object",
    metadata,
    Column("seq", BigKey, primary_key=True, autoincrement=False),
    Column("id", String(300), nullable=False),
    Column("id_key", BigInteger, nullable=False),
    Column("type", String(250), nullable=False),
    Column("version", String(27), nullable=False),  # normalised modified, else created, else ""
    Column("created", String(27), nullable=True),
    Column("spec_version", String(8), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("is_latest", Boolean, nullable=False),  # the newest version of its copy
    Column("owner_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("tlp", SmallInteger, nullable=True),  # accord.stix.markings.Tlp; NULL = unmarked (R5)
    Column("peer_id", Integer, ForeignKey("peer.id"), nullable=True),  # provenance; NULL = local
    Column("body_hash", LargeBinary(16), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("sole_copy", Boolean, nullable=False, server_default=true()),
    Index("ix_stix_object_id_key", "id_key"),
    Index("ix_stix_object_latest_seq", "is_latest", "seq"),
    Index("ix_stix_object_type_seq", "type", "seq"),
)


def id_is(table: FromClause, stix_id: str) -> ColumnElement[bool]:
    """The rows of one object id (through the id_key index)."""
    return and_(table.c.id_key == id_key(stix_id), table.c.id == stix_id)


def id_in(table: FromClause, ids: Iterable[str]) -> ColumnElement[bool]:
    """The rows of any of these object ids (through the id_key index)."""
    wanted = list(dict.fromkeys(ids))
    return and_(table.c.id_key.in_([id_key(i) for i in wanted]), table.c.id.in_(wanted))


def same_object(a: FromClause, b: FromClause) -> ColumnElement[bool]:
    """Rows of two aliases of stix_object with one id, in any copy (a join through the id_key index)."""
    return and_(a.c.id_key == b.c.id_key, a.c.id == b.c.id)


def same_copy(a: FromClause, b: FromClause) -> ColumnElement[bool]:
    """Rows of two aliases of stix_object that are versions of one copy: one id, owner and link."""
    return and_(same_object(a, b), a.c.owner_org_id == b.c.owner_org_id, a.c.peer_id.is_not_distinct_from(b.c.peer_id))


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

# A membership removed from a collection (TAXII DELETE), kept so that removals propagate (the stream, federation).
# tick comes from the same node clock as collection_object.tick: additions and removals of a collection form one
# ordered sequence, and a version put back later gets a new membership tick after its removal's. The other
# columns are the removed membership's, so the policy can ask whether it would have made the version readable.
collection_removal = Table(
    "collection_removal",
    metadata,
    Column("tick", BigKey, primary_key=True, autoincrement=False),
    Column("collection_id", Integer, ForeignKey("collection.id", ondelete="CASCADE"), nullable=False),
    Column("object_seq", BigInteger, ForeignKey("stix_object.seq", ondelete="CASCADE"), nullable=False),
    Column("added_by_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("removed_us", BigInteger, nullable=False),
    Index("ix_collection_removal_keyset", "collection_id", "tick"),
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

# Object versions stored per day, kept by the store's write path in the writing transaction (accord.store.daily)
# so that the console's charts need not scan every version of the last weeks. A row counts the versions of one
# day that share everything the sharing policy decides on: owner, provenance (peer_id, 0 = local), TLP (-1 =
# unmarked), the kind of object (accord.store.daily.Kind) and the set of collection memberships, each with whether
# the owner itself added it (`members`, accord.store.daily.members_key). A reader's count is then the sum over
# the rows whose facts accord.sharing.policy.can_read admits: the same decision as for each version alone.
daily_count = Table(
    "daily_count",
    metadata,
    Column("day", Integer, primary_key=True, autoincrement=False),  # seq // one day in microseconds (UTC)
    Column("owner_org_id", Integer, primary_key=True, autoincrement=False),
    Column("peer_id", Integer, primary_key=True, autoincrement=False),
    Column("tlp", SmallInteger, primary_key=True, autoincrement=False),
    Column("kind", SmallInteger, primary_key=True, autoincrement=False),
    Column("members", String(2000), primary_key=True),
    Column("n", BigInteger, nullable=False),
)
