"""The audit chain detects modified, deleted and reordered entries; entries carry no secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from accord.audit.service import record, verify
from accord.models.audit import audit_log


def _fill(conn, n=5):
    for i in range(n):
        record(conn, "tester", "thing.do", f"target-{i}", n=i)


def test_intact_chain_verifies(conn):
    _fill(conn)
    result = verify(conn)
    assert result.ok
    assert result.entries == 5


def test_modified_entry_is_detected(conn):
    _fill(conn)
    seqs = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars().all()
    conn.execute(update(audit_log).where(audit_log.c.seq == seqs[2]).values(actor="mallory"))
    result = verify(conn)
    assert not result.ok
    assert result.broken_seq == seqs[2]
    assert "modified" in result.reason


def test_deleted_entry_is_detected(conn):
    _fill(conn)
    seqs = conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars().all()
    conn.execute(delete(audit_log).where(audit_log.c.seq == seqs[1]))
    result = verify(conn)
    assert not result.ok
    assert result.broken_seq == seqs[2]


def test_reordered_entries_are_detected(conn):
    _fill(conn)
    rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).all()
    a, b = rows[1], rows[2]
    swap = ("at_us", "actor", "action", "target", "detail", "prev_hash", "hash")
    conn.execute(update(audit_log).where(audit_log.c.seq == a.seq).values(**{k: getattr(b, k) for k in swap}))
    conn.execute(update(audit_log).where(audit_log.c.seq == b.seq).values(**{k: getattr(a, k) for k in swap}))
    result = verify(conn)
    assert not result.ok
    assert result.broken_seq == a.seq


def test_entries_refuse_secrets(conn):
    with pytest.raises(ValueError, match="secrets"):
        record(conn, "tester", "user.create", "x", password="hunter2")
