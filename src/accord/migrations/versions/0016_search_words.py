"""search words: the names and descriptions of stored objects go into the value index (kind text:word)

New versions get their word rows at ingest (accord.correlate.words); this fills them for the versions stored
before, so search finds every object.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:20:00.000000
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

from accord.correlate.words import WORD, word_entries

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 2_000
_INSERT = sa.text(
    "INSERT INTO value_index (kind, key, object_seq, value, lo, hi, correlating) "
    "VALUES (:kind, :key, :seq, NULL, NULL, NULL, :correlating)"
)


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM value_index WHERE kind = :kind"), {"kind": WORD})
    last = -(2**63)
    while True:
        rows = conn.execute(
            sa.text("SELECT seq, raw FROM stix_object WHERE seq > :last ORDER BY seq LIMIT :n"),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        params = [
            {"kind": kind, "key": key, "seq": row.seq, "correlating": correlating}
            for row in rows
            for kind, key, _, _, _, correlating in word_entries(orjson.loads(row.raw))
        ]
        if params:
            conn.execute(_INSERT, params)
        last = rows[-1].seq


def downgrade() -> None:
    op.get_bind().execute(sa.text("DELETE FROM value_index WHERE kind = :kind"), {"kind": WORD})
