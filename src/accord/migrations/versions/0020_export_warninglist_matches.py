"""indicator_value: warninglist matches stored with each value (and the lists matched against), and an index by
kind, so that an export of one kind reads only its rows (accord.correlate.indicator_values)

Rows stored before have no matches recorded (listed_by NULL): exports match those at export time.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("indicator_value") as batch:
        batch.add_column(sa.Column("listed", sa.Text(), nullable=True))
        batch.add_column(sa.Column("listed_by", sa.BigInteger(), nullable=True))
    op.create_index("ix_indicator_value_kind", "indicator_value", ["kind", "object_seq", "ord"])


def downgrade() -> None:
    op.drop_index("ix_indicator_value_kind", table_name="indicator_value")
    with op.batch_alter_table("indicator_value") as batch:
        batch.drop_column("listed_by")
        batch.drop_column("listed")
