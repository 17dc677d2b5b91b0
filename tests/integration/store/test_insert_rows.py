"""Bulk inserts: columns folded into the statement store exactly what binding them would have."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from accord.core.db import ROWS_PER_STATEMENT, insert_rows


@pytest.mark.parametrize(
    "rows",
    [
        [("a", "it's 100%"), ("b", "it's 100%")],  # a constant needing quotes and a percent sign: bound
        [("a", "hash:sha256"), ("b", "hash:sha256")],  # a constant plain word: folded
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


def test_only_numbers_and_plain_words_are_written_into_the_statement(conn):
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        insert_rows(conn, "node_setting", ("key",), [("a",), ("b",)], fixed={"value": "x'); --"})
        insert_rows(conn, "node_setting", ("key", "value"), [("c", "hash:md5"), ("d", "hash:md5")], fold=(1,))
    finally:
        event.remove(conn, "before_cursor_execute", record)
    stored = conn.exec_driver_sql("SELECT key, value FROM node_setting WHERE key IN ('a', 'b', 'c', 'd') ORDER BY key")
    assert [tuple(r) for r in stored] == [("a", "x'); --"), ("b", "x'); --"), ("c", "hash:md5"), ("d", "hash:md5")]
    assert not any("x'" in statement for statement in statements)  # bound, never spelled into SQL
    if conn.dialect.name == "sqlite":  # PostgreSQL takes the rows by COPY, which has no statement text for them
        assert any("'hash:md5'" in statement for statement in statements)


_K_KEYS = "key >= 'k' AND key < 'l'"  # the test's keys


@pytest.mark.parametrize("count", [ROWS_PER_STATEMENT - 1, ROWS_PER_STATEMENT, 3 * ROWS_PER_STATEMENT + 7])
@pytest.mark.parametrize("ignore_conflicts", [False, True])
def test_many_narrow_rows_are_stored_in_order_whatever_the_statement_size(conn, count, ignore_conflicts):
    # Narrow rows go in several to a statement (on SQLite), the remainder one by one: every row is stored once,
    # and with ignore_conflicts a row repeating an earlier one (in the same statement or not) adds nothing.
    rows = [(f"k{i:04d}", f"v{i % 3}") for i in range(count)]
    given = rows + rows[:5] + [rows[-1]] if ignore_conflicts else rows
    insert_rows(conn, "node_setting", ("key", "value"), given, ignore_conflicts=ignore_conflicts)
    stored = conn.exec_driver_sql(f"SELECT key, value FROM node_setting WHERE {_K_KEYS} ORDER BY key").all()
    assert [tuple(r) for r in stored] == rows


def test_repeats_within_one_statement_are_skipped_or_refused(conn):
    rows = [(f"k{i:04d}", "v") for i in range(ROWS_PER_STATEMENT)]
    rows[7] = rows[3]
    insert_rows(conn, "node_setting", ("key", "value"), rows, ignore_conflicts=True)
    assert conn.exec_driver_sql(f"SELECT count(*) FROM node_setting WHERE {_K_KEYS}").scalar() == len(rows) - 1
    with pytest.raises((IntegrityError, psycopg.IntegrityError)):  # wrapped by SQLAlchemy, or from COPY
        insert_rows(conn, "node_setting", ("key", "value"), [(f"n{i:04d}", "v") for i in range(60)] + [("n0001", "v")])
