"""feed passwords are encrypted at rest with the node key (accord.core.keys); the column holds the longer text

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-15 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from accord.core.keys import decrypt_secret, encrypt_secret, is_encrypted

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_feed = sa.table("feed", sa.column("id", sa.Integer), sa.column("password", sa.Text))


def _convert(change: Callable[[str], str | None]) -> None:
    """Apply `change` to every stored feed password (None: leave it as it is)."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(_feed.c.id, _feed.c.password).where(_feed.c.password.is_not(None))).all()
    updates = [{"fid": row.id, "value": new} for row in rows if (new := change(row.password)) is not None]
    if updates:
        statement = sa.update(_feed).where(_feed.c.id == sa.bindparam("fid")).values(password=sa.bindparam("value"))
        conn.execute(statement, updates)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":  # SQLite does not enforce a VARCHAR's length
        op.alter_column("feed", "password", existing_type=sa.String(length=500), type_=sa.Text())
    # The node key is made by the first password to encrypt: a node without feed passwords needs none yet.
    _convert(lambda value: None if is_encrypted(value) else encrypt_secret(value))


def downgrade() -> None:
    # Needs the key that encrypted them: without it the downgrade stops here and changes nothing.
    _convert(lambda value: decrypt_secret(value) if is_encrypted(value) else None)
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("feed", "password", existing_type=sa.Text(), type_=sa.String(length=500))
