"""joint intelligence requirements (PIRs) and what matched them (accord.joint.pir)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "joint_pir",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collection.id"], name=op.f("fk_joint_pir_collection_id_collection")
        ),
        sa.ForeignKeyConstraint(["owner_org_id"], ["org.id"], name=op.f("fk_joint_pir_owner_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_pir")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_joint_pir_stix_id")),
    )
    op.create_index("ix_joint_pir_status", "joint_pir", ["status", "id"])
    op.create_table(
        "joint_pir_match",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pir_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["pir_id"], ["joint_pir.id"], name=op.f("fk_joint_pir_match_pir_id_joint_pir"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_pir_match")),
    )
    op.create_index("uq_joint_pir_match", "joint_pir_match", ["pir_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_joint_pir_match", table_name="joint_pir_match")
    op.drop_table("joint_pir_match")
    op.drop_index("ix_joint_pir_status", table_name="joint_pir")
    op.drop_table("joint_pir")
