"""accord.core.db registers sqlite3 adapters for None, bool and bytes (for speed): they must store what binding
those values without an adapter stores."""

from __future__ import annotations

import sqlite3

import accord.core.db  # noqa: F401 - registers the adapters


def test_adapted_values_store_as_plain_binding_does():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (v)")
    values = [None, True, False, b"\x00\xffbody", b""]
    con.executemany("INSERT INTO t VALUES (?)", [(v,) for v in values])
    stored = con.execute("SELECT typeof(v), v FROM t ORDER BY rowid").fetchall()
    assert stored == [("null", None), ("integer", 1), ("integer", 0), ("blob", b"\x00\xffbody"), ("blob", b"")]
    assert con.execute("SELECT count(*) FROM t WHERE v = ?", (True,)).fetchone() == (1,)
