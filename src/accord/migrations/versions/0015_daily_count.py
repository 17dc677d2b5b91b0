"""daily_count: object versions stored per day and policy class, for the console's dashboard

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:00:00.000000

The table is filled from what is stored: every version, classed by day, owner, provenance, TLP, kind and its
collection memberships (accord.store.daily keeps it up to date from then on).
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DAY_US = 86_400_000_000
KINDS = {"sighting": 1, "marking-definition": 2, "identity": 3}  # else 0; as accord.store.daily.Kind


def upgrade() -> None:
    op.create_table(
        "daily_count",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner_org_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("peer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tlp", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("members", sa.String(length=2000), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "owner_org_id", "peer_id", "tlp", "kind", "members"),
    )
    conn = op.get_bind()
    counts: Counter[tuple[int, int, int, int, int, str]] = Counter()
    rows = conn.exec_driver_sql(
        "SELECT o.seq, o.owner_org_id, o.peer_id, o.tlp, o.type, m.collection_id, m.added_by_org_id "
        "FROM stix_object o LEFT JOIN collection_object m ON m.object_seq = o.seq ORDER BY o.seq"
    )
    current: tuple[int, int, int, int, int] | None = None
    current_seq = None
    members: list[str] = []
    for seq, owner, peer, tlp, otype, cid, by in rows:
        if seq != current_seq:
            if current is not None:
                counts[(*current, " ".join(sorted(members)))] += 1
            current_seq, members = seq, []
            current = (seq // DAY_US, owner, peer or 0, -1 if tlp is None else tlp, KINDS.get(otype, 0))
        if cid is not None:
            members.append(f"{cid}:{int(by == owner)}")
    if current is not None:
        counts[(*current, " ".join(sorted(members)))] += 1
    if counts:
        table = sa.table(
            "daily_count", *(sa.column(c) for c in ("day", "owner_org_id", "peer_id", "tlp", "kind", "members", "n"))
        )
        keys = ("day", "owner_org_id", "peer_id", "tlp", "kind", "members")
        op.bulk_insert(table, [dict(zip(keys, key, strict=True)) | {"n": n} for key, n in counts.items()])


def downgrade() -> None:
    op.drop_table("daily_count")
