"""indicator_value: what exports need of each indicator version (accord.correlate.indicator_values)

Filled for the stored indicators here (each version's JSON parsed once); the store fills it for new versions.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_value",
        sa.Column("object_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ord", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("base", sa.Float(), nullable=True),
        sa.Column("start_us", sa.BigInteger(), nullable=True),
        sa.Column("until_us", sa.BigInteger(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=True),
        sa.Column("rev", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("object_seq", "ord", name=op.f("pk_indicator_value")),
        sqlite_with_rowid=False,
    )
    from accord.correlate.indicator_values import backfill  # the same rows the store writes

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("indicator_value")
