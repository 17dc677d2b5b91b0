"""Bulk inserts: columns folded into the statement store exactly what binding them would have."""

from __future__ import annotations

import pytest

from accord.core.db import insert_rows


@pytest.mark.parametrize(
    "rows",
    [
        [("a", "it's 100%"), ("b", "it's 100%")],  # a constant needing quotes and a percent sign: folded
        [("a", "it's 100%"), ("b", "something else")],  # varying: bound
        [("a", "one")],
    ],
)
def test_folded_and_bound_columns_store_the_same(conn, rows):
    insert_rows(conn, "node_setting", ("key", "value"), rows, fold=(1,))
    stored = conn.exec_driver_sql("SELECT key, value FROM node_setting WHERE key IN ('a', 'b') ORDER BY key").all()
    assert [tuple(r) for r in stored] == rows


def test_fixed_columns_and_skipped_conflicts(conn):
    insert_rows(conn, "node_setting", ("key",), [("a",), ("b",)], fixed={"value": "x'%"})
    insert_rows(conn, "node_setting", ("key", "value"), [("a", "new"), ("c", "new")], fold=(1,), ignore_conflicts=True)
    stored = conn.exec_driver_sql("SELECT key, value FROM node_setting WHERE key IN ('a', 'b', 'c') ORDER BY key").all()
    assert [tuple(r) for r in stored] == [("a", "x'%"), ("b", "x'%"), ("c", "new")]
