"""Database engines: SQLite (WAL) as the embedded default, PostgreSQL via psycopg 3 in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from accord.core.settings import get_settings


def normalize_url(url: str) -> str:
    """Map postgres:// and postgresql:// to the psycopg 3 driver; leave other URLs as they are."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA mmap_size=268435456")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the lock at BEGIN so concurrent writers queue (busy_timeout) instead of failing on a
    # lock upgrade; readers start deferred and never block anyone in WAL mode.
    if conn.get_execution_options().get("accord_readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """A configured engine for the URL (creates the SQLite file's folder when needed)."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN itself

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for the configured (or given) database URL."""
    return make_engine(url or get_settings().database_url)


@contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """One unit of work at a boundary (request, job, CLI command): commits on success, rolls back on error."""
    with (engine or get_engine()).begin() as conn:
        yield conn


@contextmanager
def read_transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """A read-only unit of work: one consistent snapshot, never takes the write lock."""
    with (engine or get_engine()).connect() as raw:
        conn = raw.execution_options(accord_readonly=True)
        with conn.begin():
            yield conn


def widen_cache(conn: Connection, megabytes: int) -> None:
    """Give this SQLite connection a larger page cache for a bulk write (no-op on PostgreSQL).

    Inserts into the indexes of a large store touch pages all over them; with the default cache they are
    evicted and read back again and again. SQLite allocates cache pages only as they are used.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size=-{int(megabytes) * 1024}")


def is_postgres(conn: Connection) -> bool:
    """True when the connection talks to PostgreSQL."""
    return conn.dialect.name == "postgresql"
