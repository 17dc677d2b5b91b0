"""objects are held in copies, one per owner and link: stix_object.sole_copy

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every id stored so far has one owner (W2 refused every other writer) and no peer link: one copy each.
    op.add_column("stix_object", sa.Column("sole_copy", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    op.execute("ALTER TABLE stix_object DROP COLUMN sole_copy")  # SQLite 3.35+ drops an unindexed column in place
