"""objects are held in copies, one per owner and link: stix_object.sole_copy; the secret behind derived ids

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 11:00:00.000000
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every id stored so far has one owner (W2 refused every other writer) and no peer link: one copy each.
    op.add_column("stix_object", sa.Column("sole_copy", sa.Boolean(), nullable=False, server_default=sa.true()))
    # Ids Accord derives from values are keyed with this (accord.store.derived): no other writer can compute them.
    op.get_bind().execute(
        sa.text("INSERT INTO node_setting (key, value) VALUES ('derived_id_secret', :value)"),
        {"value": secrets.token_hex(32)},
    )


def downgrade() -> None:
    op.execute("DELETE FROM node_setting WHERE key = 'derived_id_secret'")
    op.execute("ALTER TABLE stix_object DROP COLUMN sole_copy")  # SQLite 3.35+ drops an unindexed column in place
