"""names of organisations and sharing groups are unique by a normalised key: org.name_key, sharing_group.name_key

Existing rows get their key (accord.core.names.name_key). Where two rows' names already share a key (the old
comparison let "ÄRGER CERT" and "ärger cert" both in), the oldest keeps its name and each later one is renamed
"<name> (2)", "(3)", ... so that every name resolves to exactly one row; nothing else about them changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from accord.core.names import NAME_KEY_MAX, name_key

revision = "0007"
# "0006" is being written on another branch; when the branches merge this becomes "0006".
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("org", "sharing_group")
NAME_MAX = 200
log = logging.getLogger("accord.migrations")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        # SQLite adds a NOT NULL column only with a default (making it NOT NULL later would copy the table, and
        # dropping org for the copy would cascade to memberships and grants); Accord always writes the key.
        op.add_column(
            table,
            sa.Column(
                "name_key",
                sa.String(NAME_KEY_MAX),
                nullable=not sqlite,
                server_default="" if sqlite else None,
            ),
        )
        _fill_keys(table)
        if not sqlite:
            op.alter_column(table, "name_key", existing_type=sa.String(NAME_KEY_MAX), nullable=False)
        op.create_index(f"uq_{table}_name_key", table, ["name_key"], unique=True)


def _fill_keys(table: str) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, name FROM {table} ORDER BY id")).all()
    keepers: dict[str, int] = {}
    for row in rows:
        keepers.setdefault(name_key(row.name), row.id)
    taken = set(keepers)
    updates = []
    for row in rows:
        name, key = row.name, name_key(row.name)
        if keepers[key] != row.id:
            n = 1
            while key in taken:
                n += 1
                suffix = f" ({n})"
                name = row.name[: NAME_MAX - len(suffix)] + suffix
                key = name_key(name)
            taken.add(key)
            log.warning("%s %r is renamed %r: its name matched an older one's", table, row.name, name)
        updates.append({"id": row.id, "name": name, "key": key})
    if updates:
        conn.execute(sa.text(f"UPDATE {table} SET name = :name, name_key = :key WHERE id = :id"), updates)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"uq_{table}_name_key", table_name=table)
        op.execute(f"ALTER TABLE {table} DROP COLUMN name_key")  # SQLite 3.35+ drops an unindexed column in place
