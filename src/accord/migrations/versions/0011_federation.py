"""federation: a peer's settings and health, pull/push subscriptions, per-version provenance

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PEER_COLUMNS: tuple[sa.Column[Any], ...] = (
    sa.Column("secret", sa.Text(), nullable=True),
    sa.Column("username", sa.String(length=200), nullable=True),
    sa.Column("allow_private", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("public_key", sa.String(length=200), nullable=True),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("timeout_seconds", sa.Float(), nullable=False, server_default="120"),
)


def upgrade() -> None:
    conn = op.get_bind()
    for column in _PEER_COLUMNS:
        op.add_column("peer", column)
    if conn.dialect.name == "sqlite":
        # Alembic adds a foreign key on SQLite only by copying the table; feeds and objects reference peer.
        op.execute("ALTER TABLE peer ADD COLUMN source_org_id INTEGER REFERENCES org (id)")
    else:
        op.add_column("peer", sa.Column("source_org_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_peer_source_org_id_org"), "peer", "org", ["source_org_id"], ["id"])
    op.create_table(
        "peer_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("remote_collection", sa.String(length=200), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("watermark", sa.String(length=40), nullable=True),
        sa.Column("watermark_partial", sa.Boolean(), nullable=False),
        sa.Column("stream_cursor", sa.Text(), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("last_run_us", sa.BigInteger(), nullable=True),
        sa.Column("last_ok_us", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_run_us", sa.BigInteger(), nullable=True),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("received", "stored", "duplicates", "refused", "removed", "sent")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_peer_subscription_collection_id_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["peer.id"], name=op.f("fk_peer_subscription_peer_id_peer"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_subscription")),
        sa.UniqueConstraint(
            "peer_id",
            "direction",
            "remote_collection",
            "collection_id",
            name=op.f("uq_peer_subscription_peer_id_direction_remote_collection_collection_id"),
        ),
    )
    op.create_table(
        "object_receipt",
        sa.Column("object_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("remote_collection", sa.String(length=200), nullable=False),
        sa.Column("received_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_seq"],
            ["stix_object.seq"],
            name=op.f("fk_object_receipt_object_seq_stix_object"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["peer.id"], name=op.f("fk_object_receipt_peer_id_peer"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["peer_subscription.id"],
            name=op.f("fk_object_receipt_subscription_id_peer_subscription"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("object_seq", name=op.f("pk_object_receipt")),
    )
    op.create_index("ix_object_receipt_subscription", "object_receipt", ["subscription_id", "object_seq"])


def downgrade() -> None:
    op.drop_index("ix_object_receipt_subscription", table_name="object_receipt")
    op.drop_table("object_receipt")
    op.drop_table("peer_subscription")
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_peer_source_org_id_org"), "peer", type_="foreignkey")
    for name in ("source_org_id", *(c.name for c in _PEER_COLUMNS)):
        op.execute(f"ALTER TABLE peer DROP COLUMN {name}")  # SQLite 3.35+ drops an unindexed column in place
