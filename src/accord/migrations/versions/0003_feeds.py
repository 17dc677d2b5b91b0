"""feeds: feed, feed_pull, feed_mark

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("item_type", sa.String(length=50), nullable=True),
        sa.Column("csv_columns", sa.String(length=500), nullable=True),
        sa.Column("delimiter", sa.String(length=5), nullable=False),
        sa.Column("skip_header", sa.Boolean(), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=True),
        sa.Column("every_minutes", sa.Integer(), nullable=True),
        sa.Column("taxii_collection", sa.String(length=200), nullable=True),
        sa.Column("username", sa.String(length=200), nullable=True),
        sa.Column("password", sa.String(length=500), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("cursor", sa.String(length=100), nullable=True),
        sa.Column("last_pull_us", sa.BigInteger(), nullable=True),
        sa.Column("last_status", sa.String(length=15), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collection.id"], name=op.f("fk_feed_collection_id_collection"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed")),
        sa.UniqueConstraint("name", name=op.f("uq_feed_name")),
    )
    op.create_table(
        "feed_pull",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("started_us", sa.BigInteger(), nullable=False),
        sa.Column("finished_us", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=15), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("fetched_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], name=op.f("fk_feed_pull_feed_id_feed"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_pull")),
    )
    with op.batch_alter_table("feed_pull", schema=None) as batch_op:
        batch_op.create_index("ix_feed_pull_feed", ["feed_id", "id"], unique=False)
    op.create_table(
        "feed_mark",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("stamp", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], name=op.f("fk_feed_mark_feed_id_feed"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("feed_id", "key", name=op.f("pk_feed_mark")),
    )


def downgrade() -> None:
    op.drop_table("feed_mark")
    with op.batch_alter_table("feed_pull", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_pull_feed")
    op.drop_table("feed_pull")
    op.drop_table("feed")
