"""The after-store case watch must cost what the links cost, not what the store holds: its exact-value query
seeks the value index by (kind, key) from the values recorded for linked objects and never scans the index.
(Starting from the new versions scanned it, since the index has no object_seq-first order: 9.4 s per write
at 1,000,000 objects.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select

from accord.joint import repository as repo
from accord.models.objects import stix_object
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator, make_org


def _new_versions(conn) -> tuple[int, int]:
    """The seqs of the last two of 20 indicators just stored."""
    org = make_org(conn)
    ingest(conn, [make_indicator() for _ in range(20)], WriteContext(writer_org_id=org.id))
    top = conn.execute(select(func.max(stix_object.c.seq))).scalar_one()
    return top - 1, top


def _value_index_statements(engine, call: Callable[[], Any]) -> tuple[Any, list[tuple[str, Any]]]:
    """call()'s result and the statements it ran that read the value index."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany and "value_index" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        return call(), seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def test_case_value_hits_seeks_the_value_index(conn, engine):
    if conn.dialect.name != "sqlite":
        pytest.skip("SQLite's planner chose the scan; PostgreSQL plans from statistics")
    seqs = list(_new_versions(conn))
    _, seen = _value_index_statements(engine, lambda: repo.case_value_hits(conn, seqs, limit=10))
    assert len(seen) == 1
    stmt, params = seen[0]
    plan = [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params)]
    assert plan[0].startswith("SCAN"), plan  # the recorded values drive it
    assert "joint_case_value" in plan[0], plan
    assert not [step for step in plan[1:] if step.startswith("SCAN")], plan


def test_new_ranged_values_read_the_new_versions_rows_by_seq(conn, engine):
    """The ip and domain rows of the versions just stored come from the partial index by seq, not from every ip
    and domain row of the store (57 ms per write at 1,000,000 objects before, growing with the store)."""
    seqs = list(_new_versions(conn))
    rows, seen = _value_index_statements(engine, lambda: repo.new_ranged_values(conn, seqs))
    assert {r.seq for r in rows} <= set(seqs)
    (stmt, params) = seen[0]
    if conn.dialect.name == "sqlite":
        plan = " ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params))
    else:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # small test tables: would the index serve at all?
        plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + stmt, params))
    assert "ix_value_index_ranged_seq" in plan, plan
