"""value index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Byte-order comparison of keys and IP bounds on PostgreSQL (SQLite compares bytes by default).
_CTEXT = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "value_index",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", _CTEXT, nullable=False),
        sa.Column("object_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("lo", _CTEXT, nullable=True),
        sa.Column("hi", _CTEXT, nullable=True),
        sa.Column("correlating", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", "object_seq", name=op.f("pk_value_index")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_value_index_range",
        "value_index",
        ["kind", "lo"],
        unique=False,
        sqlite_where=sa.text("lo IS NOT NULL"),
        postgresql_where=sa.text("lo IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_value_index_range", table_name="value_index")
    op.drop_table("value_index")
