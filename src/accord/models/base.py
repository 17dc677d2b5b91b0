"""Shared table metadata and column types that map well on both SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

# SQLite only aliases the rowid for "INTEGER PRIMARY KEY"; PostgreSQL needs 64 bits for microsecond keys.
BigKey = BigInteger().with_variant(Integer(), "sqlite")
