"""value_index: a partial index of the ip and domain rows by object_seq, so that the case watch reads the ip and
domain values of the versions just stored (accord.joint.repository.new_ranged_values) without reading every ip
and domain row of the store (the primary key is (kind, key, object_seq): no order starts from a version)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_WHERE = sa.text("kind IN ('ip', 'domain')")


def upgrade() -> None:
    op.create_index(
        "ix_value_index_ranged_seq",
        "value_index",
        ["object_seq"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_value_index_ranged_seq", table_name="value_index")
