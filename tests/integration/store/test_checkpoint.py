"""The server's background WAL checkpoints (SQLite): commits stop paying for them, nothing is left behind."""

from __future__ import annotations

import time

from sqlalchemy import text

from accord.core import db


def test_checkpoints_move_to_the_thread_and_catch_up(tmp_path):
    path = tmp_path / "cp.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"))
    checkpointer = db.Checkpointer(engine, interval=3.0)
    checkpointer.start()
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == db.BACKSTOP_CHECKPOINT_PAGES
        size = db.PAGE_SIZE - 100  # a row a page
        with engine.begin() as conn:  # ~1,500 pages: past the default 1,000-page checkpoint on commit
            conn.execute(text(f"INSERT INTO t (body) VALUES (randomblob({size}))"), [{}] * 1500)
        assert path.stat().st_size < 1_000_000  # the commit left the pages in the log
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and path.stat().st_size < 1500 * size:
            time.sleep(0.2)
        assert path.stat().st_size >= 1500 * size  # the thread copied them into the database file
    finally:
        checkpointer.stop()
        engine.dispose()
    fresh = db.make_engine(f"sqlite:///{path}")
    with fresh.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000  # back to the default
        assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar() == 1500
    fresh.dispose()


def test_the_server_starts_one_only_for_sqlite_files(tmp_path):
    assert db.background_checkpointer(db.make_engine("sqlite://")) is None
    checkpointer = db.background_checkpointer(db.make_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    assert checkpointer is not None
    checkpointer.stop()
