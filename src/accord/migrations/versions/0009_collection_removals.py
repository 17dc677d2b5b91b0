"""removed collection memberships are recorded (collection_removal) so that removals can propagate

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Removals made before this revision were not recorded: consumers that need them re-read the collection.
    op.create_table(
        "collection_removal",
        sa.Column("tick", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("object_seq", sa.BigInteger(), nullable=False),
        sa.Column("added_by_org_id", sa.Integer(), nullable=False),
        sa.Column("removed_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_org_id"], ["org.id"], name=op.f("fk_collection_removal_added_by_org_id_org")
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collection.id"],
            name=op.f("fk_collection_removal_collection_id_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["object_seq"],
            ["stix_object.seq"],
            name=op.f("fk_collection_removal_object_seq_stix_object"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tick", name=op.f("pk_collection_removal")),
    )
    op.create_index("ix_collection_removal_keyset", "collection_removal", ["collection_id", "tick"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_collection_removal_keyset", table_name="collection_removal")
    op.drop_table("collection_removal")
