"""extraction drafts and worker leases: extraction_drafts, worker_lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extraction_drafts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("findings", sa.LargeBinary(), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("published_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["org.id"], name=op.f("fk_extraction_drafts_org_id_org"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_extraction_drafts_user_id_app_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_extraction_drafts_collection_id_collection"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extraction_drafts")),
    )
    with op.batch_alter_table("extraction_drafts", schema=None) as batch_op:
        batch_op.create_index("ix_extraction_drafts_org", ["org_id", "created_us"], unique=False)
    op.create_table(
        "worker_lease",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("until_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_lease")),
    )


def downgrade() -> None:
    op.drop_table("worker_lease")
    with op.batch_alter_table("extraction_drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_extraction_drafts_org")
    op.drop_table("extraction_drafts")
