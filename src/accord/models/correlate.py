"""The correlation value index: one row per normalised value per stored object version (never pairwise)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text, text

from accord.models.base import metadata

# Keys and bounds compare byte-wise (reversed domains, fixed-width hex IP bounds): "C" collation on PostgreSQL;
# SQLite's default BINARY collation already is byte order.
CText = Text().with_variant(Text(collation="C"), "postgresql")

# Rows: (kind, key) is the join key; `value` is the display form, NULL when the key shows it (see
# accord.correlate.indexer.display_value). `lo`/`hi` are IP range bounds for kind 'ip'. Kinds starting with
# 'ref:' are links, not observables (never correlating): 'ref:report' (key = a report's object_ref),
# 'ref:relationship' (key = one end, value = the other end) and 'ref:sighting' (key = sighting_of_ref,
# lo = last seen timestamp, hi = count), so lookups find reports, relationships and sightings by index.
# A clustered primary key (WITHOUT ROWID on SQLite) stores each row once: exact look-ups read only the key.
# No foreign key to stix_object: object versions are never deleted alone, and the check would cost every insert.
RANGED_SEQ_WHERE = "kind IN ('ip', 'domain')"  # ix_value_index_ranged_seq

value_index = Table(
    "value_index",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("key", CText, primary_key=True),
    Column("object_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Text, nullable=True),
    Column("lo", CText, nullable=True),
    Column("hi", CText, nullable=True),
    Column("correlating", Boolean, nullable=False),
    # IP containment: every address or CIDR whose low bound lies inside a range is one index range scan.
    # Partial (rows with bounds only); any comparison on lo implies "lo IS NOT NULL", so queries use it.
    Index(
        "ix_value_index_range",
        "kind",
        "lo",
        sqlite_where=text("lo IS NOT NULL"),
        postgresql_where=text("lo IS NOT NULL"),
    ),
    # The ip and domain rows of given versions (the case watch, after each write): the key has no order by version.
    # Partial, so that other kinds (most rows: words, hashes, references) cost nothing; queries name the same
    # literal condition (RANGED_SEQ_WHERE) so that both databases see that the index covers them.
    Index(
        "ix_value_index_ranged_seq",
        "object_seq",
        sqlite_where=text(RANGED_SEQ_WHERE),
        postgresql_where=text(RANGED_SEQ_WHERE),
    ),
    sqlite_with_rowid=False,
)

# What exports need of each stored indicator version, so that blocklists, RPZ zones and Suricata rules stream
# from SQL without parsing JSON (accord.correlate.indicator_values fills it in the writing transaction).
# Row ord 0 of a version is its head: the facts its score is computed from (accord.correlate.scoring
# score_facts: base, decay start, valid_until, revoked), its Suricata `rev` and name; kind and value are NULL.
# Rows ord >= 1 are its exported values in order (index kind, value as an export writes it). A version
# without a head row has not been indexed (stored by a path that does not fill the table): exports parse it.
# Warninglists matched when the version was stored: a value row's `listed` names the lists holding it (one a
# line; NULL: none), valid only while the active lists are those the head's `listed_by` names
# (WarninglistMatcher.fingerprint; NULL: not matched), else exports match at export time.
indicator_value = Table(
    "indicator_value",
    metadata,
    Column("object_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ord", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=True),
    Column("value", Text, nullable=True),
    Column("base", Float, nullable=True),
    Column("start_us", BigInteger, nullable=True),
    Column("until_us", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=True),
    Column("rev", BigInteger, nullable=True),
    Column("name", Text, nullable=True),
    Column("listed", Text, nullable=True),
    Column("listed_by", BigInteger, nullable=True),
    # An export of one kind of value (a blocklist, an RPZ zone) reads only that kind's rows, in seq order; on
    # SQLite the index holds their value and matches too (migration 0021; not on PostgreSQL, whose btree
    # entries are too small for a long URL).
    Index("ix_indicator_value_kind", "kind", "object_seq", "ord"),
    sqlite_with_rowid=False,
)
