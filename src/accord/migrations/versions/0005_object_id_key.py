"""objects are found by a 64-bit key of their id: stix_object.id_key replaces the (id, version) index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from accord.stix.ids import id_key

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default (changing it later would copy the table, and dropping
    # stix_object for the copy would cascade to the memberships); the store always writes the key itself.
    op.add_column(
        "stix_object",
        sa.Column("id_key", sa.BigInteger(), nullable=not sqlite, server_default="0" if sqlite else None),
    )
    _fill_keys()
    if not sqlite:
        op.alter_column("stix_object", "id_key", existing_type=sa.BigInteger(), nullable=False)
    with op.batch_alter_table("stix_object", schema=None) as batch_op:
        batch_op.create_index("ix_stix_object_id_key", ["id_key"], unique=False)
        batch_op.drop_index("uq_stix_object_id_version")


def _fill_keys() -> None:
    conn = op.get_bind()
    last = -(2**63)
    while True:
        rows = conn.execute(
            sa.text("SELECT seq, id FROM stix_object WHERE seq > :last ORDER BY seq LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        conn.execute(
            sa.text("UPDATE stix_object SET id_key = :key WHERE seq = :seq"),
            [{"key": id_key(row.id), "seq": row.seq} for row in rows],
        )
        last = rows[-1].seq


def downgrade() -> None:
    with op.batch_alter_table("stix_object", schema=None) as batch_op:
        batch_op.create_index("uq_stix_object_id_version", ["id", "version"], unique=True)
        batch_op.drop_index("ix_stix_object_id_key")
    op.execute("ALTER TABLE stix_object DROP COLUMN id_key")  # SQLite 3.35+ drops an unindexed column in place
