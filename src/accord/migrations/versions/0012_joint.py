"""joint work: relational views of cases, tasks, linked objects and timelines (accord.joint)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["case_id"], ["joint_case.id"], name=op.f(f"fk_{table}_case_id_joint_case"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "joint_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(length=27), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("tlp", sa.SmallInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("opened_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collection.id"], name=op.f("fk_joint_case_collection_id_collection")
        ),
        sa.ForeignKeyConstraint(["owner_org_id"], ["org.id"], name=op.f("fk_joint_case_owner_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_case")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_joint_case_stix_id")),
    )
    op.create_table(
        "joint_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("due", sa.String(length=27), nullable=True),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        _case_fk("joint_task"),
        sa.ForeignKeyConstraint(["owner_org_id"], ["org.id"], name=op.f("fk_joint_task_owner_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_task")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_joint_task_stix_id")),
    )
    op.create_index("ix_joint_task_case", "joint_task", ["case_id", "id"])
    op.create_index("ix_joint_task_assignee", "joint_task", ["assignee", "id"])
    op.create_table(
        "joint_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.String(length=300), nullable=False),
        sa.Column("object_key", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _case_fk("joint_link"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_link")),
    )
    op.create_index("uq_joint_link_case_object", "joint_link", ["case_id", "object_id"], unique=True)
    op.create_index("ix_joint_link_case_seq", "joint_link", ["case_id", "seq"])
    op.create_table(
        "joint_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        _case_fk("joint_event"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_event")),
    )
    op.create_index("ix_joint_event_case", "joint_event", ["case_id", "id"])
    op.create_index("ix_joint_event_task", "joint_event", ["task_id", "id"])

    op.create_table(
        "joint_rfi",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("owner_org_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("due", sa.String(length=27), nullable=True),
        sa.Column("tlp", sa.SmallInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("asked_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collection.id"], name=op.f("fk_joint_rfi_collection_id_collection")
        ),
        sa.ForeignKeyConstraint(["owner_org_id"], ["org.id"], name=op.f("fk_joint_rfi_owner_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_rfi")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_joint_rfi_stix_id")),
    )
    op.create_table(
        "joint_rfi_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rfi_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rfi_id"], ["joint_rfi.id"], name=op.f("fk_joint_rfi_answer_rfi_id_joint_rfi"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["org_id"], ["org.id"], name=op.f("fk_joint_rfi_answer_org_id_org")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_rfi_answer")),
    )
    op.create_index("ix_joint_rfi_answer_rfi", "joint_rfi_answer", ["rfi_id", "id"])
    op.create_table(
        "joint_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("read_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_joint_notification_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_joint_notification")),
        sa.UniqueConstraint("public_id", name=op.f("uq_joint_notification_public_id")),
    )
    op.create_index("ix_joint_notification_user", "joint_notification", ["user_id", "id"])


def downgrade() -> None:
    op.drop_table("joint_notification")
    op.drop_table("joint_rfi_answer")
    op.drop_table("joint_rfi")
    op.drop_table("joint_event")
    op.drop_table("joint_link")
    op.drop_table("joint_task")
    op.drop_table("joint_case")
