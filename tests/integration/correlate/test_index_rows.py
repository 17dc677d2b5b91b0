"""Value-index rows go in exactly as queued, whatever mix of columns a kind's rows fill."""

from __future__ import annotations

from sqlalchemy import select

from accord.correlate.indexer import CIDR_MARK, COLUMNS, PendingRows, index_rows
from accord.models.correlate import value_index


def _stored(conn) -> set[tuple]:
    rows = conn.execute(select(*(value_index.c[name] for name in COLUMNS))).all()
    return {(r.kind, r.key, r.object_seq, r.value, r.lo, r.hi, bool(r.correlating)) for r in rows}


def test_rows_are_stored_as_queued_with_mixed_and_constant_columns(conn):
    pending = PendingRows()
    pending.add(
        101,
        [
            ("domain", "org.example.", None, None, None, True),
            ("domain", "org.example.www.", "WWW.example.org", None, None, False),  # a display value, not correlating
            ("ip", "198.51.100.7", None, "4:c6336407", "4:c6336407", True),
            ("ip", "198.51.100.0/24", None, "4:c6336400", "4:c63364ff", True),
            (CIDR_MARK, "4/24", None, None, None, False),
            ("ref:relationship", "malware--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061", "indicator--x", None, None, False),
            ("hash:o'brien-100%", "abc", None, None, None, True),  # a kind needing quotes and a percent sign
            ("domain", "org.example.", None, None, None, True),  # named twice by one version: stored once
        ],
    )
    pending.add(102, [("domain", "org.example.", None, None, None, True), (CIDR_MARK, "4/24", None, None, None, False)])
    index_rows(conn, pending)
    assert (pending.by_kind, pending.versions) == ({}, 0)  # consumed: the queue is ready for the next rows
    assert _stored(conn) == {
        ("domain", "org.example.", 101, None, None, None, True),
        ("domain", "org.example.www.", 101, "WWW.example.org", None, None, False),
        ("ip", "198.51.100.7", 101, None, "4:c6336407", "4:c6336407", True),
        ("ip", "198.51.100.0/24", 101, None, "4:c6336400", "4:c63364ff", True),
        (CIDR_MARK, "4/24", 0, None, None, None, False),  # one marker per prefix length, shared
        ("ref:relationship", "malware--0c7b5b88-8ff7-4a4d-aa9c-feb398cd0061", 101, "indicator--x", None, None, False),
        ("hash:o'brien-100%", "abc", 101, None, None, None, True),
        ("domain", "org.example.", 102, None, None, None, True),
    }
