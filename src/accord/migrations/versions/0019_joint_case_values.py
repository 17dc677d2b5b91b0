"""the values of each case's linked objects (accord.joint.correlation): the case correlation summary joins them
to the value index instead of reading and parsing every linked object; links found by object (new versions of
linked objects add their values)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 19:05:00.000000
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

CText = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "joint_case_value",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", CText, nullable=False),
        sa.Column("object_id", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["joint_case.id"], name=op.f("fk_joint_case_value_case_id_joint_case"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "kind", "key", "object_id", name=op.f("pk_joint_case_value")),
    )
    op.create_index("ix_joint_link_object", "joint_link", ["object_key"])
    _backfill()


def _backfill() -> None:
    """The values of the objects already linked (their newest versions), as linking fills them from now on."""
    from accord.correlate.matching import correlatable
    from accord.correlate.values import values_of

    conn = op.get_bind()
    link = sa.table("joint_link", sa.column("case_id"), sa.column("object_id"), sa.column("object_key"))
    obj = sa.table("stix_object", sa.column("id"), sa.column("id_key"), sa.column("is_latest"), sa.column("raw"))
    value = sa.table(
        "joint_case_value", sa.column("case_id"), sa.column("kind"), sa.column("key"), sa.column("object_id")
    )
    stmt = (
        sa.select(link.c.case_id, link.c.object_id, obj.c.raw)
        .join(obj, sa.and_(obj.c.id_key == link.c.object_key, obj.c.id == link.c.object_id))
        .where(obj.c.is_latest.is_(True))
    )
    rows: dict[tuple[int, str, str, str], None] = {}
    for r in conn.execute(stmt):
        for v in values_of(orjson.loads(r.raw)):
            if correlatable(v):
                rows[(r.case_id, v.kind, v.key, r.object_id)] = None
    if rows:
        conn.execute(sa.insert(value), [{"case_id": c, "kind": k, "key": y, "object_id": o} for c, k, y, o in rows])


def downgrade() -> None:
    op.drop_index("ix_joint_link_object", table_name="joint_link")
    op.drop_table("joint_case_value")
