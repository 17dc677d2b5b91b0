"""indicator_value: on SQLite, the index by kind also holds each row's value and warninglist matches, so that a
blocklist or an RPZ zone (accord.exports.active) reads a value without a second look-up of its row

PostgreSQL keeps the index of 0020: a btree entry holds at most about 2,700 bytes, and a URL may be longer.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08 01:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_KEY = ["kind", "object_seq", "ord"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_indicator_value_kind", table_name="indicator_value")
    op.create_index("ix_indicator_value_kind", "indicator_value", [*_KEY, "value", "listed"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_indicator_value_kind", table_name="indicator_value")
    op.create_index("ix_indicator_value_kind", "indicator_value", _KEY)
