"""SQLite page size: new databases get Accord's; an existing database keeps its own and works as before."""

from __future__ import annotations

import sqlite3

from sqlalchemy import text

from accord.core import db


def _page_size(path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("PRAGMA page_size").fetchone()[0])
    finally:
        con.close()


def test_a_new_database_gets_the_page_size_in_wal_mode(tmp_path):
    path = tmp_path / "new.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    assert db.PAGE_SIZE == 16_384
    assert _page_size(path) == db.PAGE_SIZE


def test_an_existing_database_keeps_its_page_size(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (v TEXT)")
    con.execute("INSERT INTO t VALUES ('kept')")
    con.commit()
    con.close()
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('added')"))
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY rowid"))] == ["kept", "added"]
    engine.dispose()
    assert _page_size(path) == 4096
