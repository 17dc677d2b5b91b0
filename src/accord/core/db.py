"""Database engines: SQLite (WAL) as the embedded default, PostgreSQL via psycopg 3 in production."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from operator import itemgetter
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


def _as_is(value: Any) -> Any:
    return value


# sqlite3 binds int, float, str and bytearray values directly. Any other value first goes through the adapter
# protocol: a registry lookup that misses, then two attribute lookups. For None, bool and bytes (every stored
# object's flags, hashes and body) that cost more than the binding itself, a large part of a bulk insert of
# stix_object rows (bench/bench_import.py). Registered adapters are found by the first lookup. What is stored
# does not change.
sqlite3.register_adapter(bool, int)
sqlite3.register_adapter(type(None), _as_is)
sqlite3.register_adapter(bytes, _as_is)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect only where the file is being created
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={_lock_timeout_ms()}")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA mmap_size=268435456")
    if _background_checkpoints:
        cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")
    cur.close()


log = logging.getLogger("accord.db")
# Pages of 16 KiB, not SQLite's 4 KiB: a store's rows carry their STIX bodies (about 400 bytes each), so a page
# holds about 30 rows and every B-tree is shallower and has a quarter of the pages. Paired imports of 100,000
# objects took a tenth less time (commit and checkpoint a third less); TAXII POSTs were unchanged. A database
# keeps the page size it was created with (WAL mode cannot change it), so older stores keep 4 KiB.
PAGE_SIZE = 16_384
BACKSTOP_CHECKPOINT_PAGES = 16_384  # with a checkpoint thread, commits checkpoint only past ~256 MB of WAL
_background_checkpoints = False


class Checkpointer:
    """Copies the SQLite write-ahead log back into the database from a background thread (the server's).

    By default the commit that takes the log past 1,000 pages copies it back itself, so one request in a few
    pays for everyone's writes (about half of a 1,000-object TAXII POST into a large store). With a
    checkpointer running, connections opened afterwards leave that to it: a PASSIVE checkpoint every
    `interval` seconds, which never blocks readers or writers and runs without the GIL. Commits still
    checkpoint past BACKSTOP_CHECKPOINT_PAGES, so the log stays bounded if the thread ever stalls.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.path = engine.url.database
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accord-checkpoint", daemon=True)

    def start(self) -> None:
        """Start the thread; later connections of every SQLite engine in the process leave checkpoints to it."""
        global _background_checkpoints
        _background_checkpoints = True
        self.engine.dispose()  # pooled connections were opened with the default; new ones get the backstop
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint."""
        global _background_checkpoints
        self._stop.set()
        self._thread.join(30)
        _background_checkpoints = False

    def _run(self) -> None:
        con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.OperationalError as exc:
                    # Another process of the node (serve --workers N) is checkpointing right now: fine.
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        log.exception("background checkpoint failed; commits will checkpoint past the backstop")
                except sqlite3.Error:
                    log.exception("background checkpoint failed; commits will checkpoint past the backstop")
                if stopping:
                    return
        finally:
            con.close()


def background_checkpointer(engine: Engine) -> Checkpointer | None:
    """A started checkpointer for a SQLite file database, None for PostgreSQL and in-memory SQLite."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    checkpointer = Checkpointer(engine)
    checkpointer.start()
    return checkpointer


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the lock at BEGIN so concurrent writers queue (busy_timeout) instead of failing on a
    # lock upgrade; readers start deferred and never block anyone in WAL mode.
    if conn.get_execution_options().get("accord_readonly"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# A connection keeps the pages it wrote (and the pages it read from the write-ahead log) in its page cache, up to
# its cache_size (64 MiB), and a pool holds several connections: under sustained writes the process grew by what
# its connections had touched until each cache was full, and a large envelope left its pages behind
# (bench/bench_memory.py). The cache is worth little between transactions: a connection discards it at its next
# BEGIN whenever another connection wrote meanwhile, and pages that are not in the log are read from the
# memory-mapped file without it. So a connection frees its cache when it goes back to the pool.
def _sqlite_release_cache(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA shrink_memory")


# Connections a SQLite engine keeps open between uses. With SQLAlchemy's default of five, a server answering eight
# concurrent requests held about ten, and closed one every few seconds to open another (its pragmas run, its
# schema read and its statement cache filled again). Idle connections hold little: their page cache is released
# at checkin (bench/bench_memory.py pairs the heap and the CPU per 1,000 objects).
SQLITE_POOL_SIZE = 16

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_engines() -> None:
    """Close the pooled connections of every engine this process made (SQLite then folds its log back)."""
    for engine in list(_engines):
        engine.dispose()


def make_engine(url: str) -> Engine:
    """A configured engine for the URL (creates the SQLite file's folder when needed)."""
    engine = _make_engine(url)
    _engines.add(engine)
    return engine


def _make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_file = bool(parsed.database) and parsed.database != ":memory:"
        if in_file:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        timeout = _lock_timeout_ms() / 1000
        # A file's engine pools its connections (QueuePool); an in-memory database lives in one connection per
        # thread (SingletonThreadPool), which takes no pool size.
        pool: dict[str, Any] = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE} if in_file else {}
        engine = create_engine(
            url,
            **pool,
            connect_args={"check_same_thread": False, "timeout": timeout},
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN itself

        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _sqlite_release_cache)
        return engine
    # psycopg prepares a statement on the server after a few runs, and PostgreSQL may then keep one generic plan
    # for it, made without the parameters' values and on the statistics of the moment. Accord's statements take
    # IN lists and keyset positions over tables that grow by thousands of rows a second: a plan made when a
    # table was small (a sequential scan) would stay while the table grows a hundredfold. So statements are not
    # prepared: each run is planned with its own values (a fraction of a millisecond). The database's own
    # foreign-key checks keep their cached plans, which look rows up by primary key whatever the table's size.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        # A write waits for another's lock at most this long, then fails (and its request answers 503) instead
        # of holding a connection and a client for as long as the other transaction lasts.
        connect_args={"prepare_threshold": None, "options": f"-c lock_timeout={_lock_timeout_ms()}"},
    )


def _lock_timeout_ms() -> int:
    return max(1, round(get_settings().database_lock_timeout_seconds * 1000))


# SQLite: SQLITE_BUSY (another connection holds the write lock) and SQLITE_LOCKED (a table lock), with their
# extended codes in the high bits. PostgreSQL: lock_not_available (lock_timeout), serialization_failure and
# deadlock_detected. Each means "another writer was in the way": nothing of this transaction is kept, and the
# same request may succeed a moment later.
_SQLITE_BUSY_CODES = frozenset({5, 6})
_PG_RETRYABLE_STATES = frozenset({"55P03", "40001", "40P01"})


def lock_timed_out(exc: BaseException) -> bool:
    """Whether an exception (SQLAlchemy-wrapped or raw from the driver) says another writer held a lock too long."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(orig, sqlite3.OperationalError):
        if code is not None:
            return code & 0xFF in _SQLITE_BUSY_CODES
        text_ = str(orig)
        return "database is locked" in text_ or "database table is locked" in text_
    return getattr(orig, "sqlstate", None) in _PG_RETRYABLE_STATES


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for the configured (or given) database URL."""
    return make_engine(url or get_settings().database_url)


def shown_url(engine: Engine) -> str:
    """The engine's database URL with its password masked: what may travel to another process."""
    return engine.url.render_as_string(hide_password=True)


def engine_for_shown(url: str) -> Engine:
    """The engine of a database named by shown_url(): a URL that had a password must be the node's own database
    (its settings hold the password); ValueError otherwise."""
    if make_url(url).password is None:
        return get_engine(url)
    own = get_engine()
    if shown_url(own) != url:
        raise ValueError("a database URL with a password that is not the node's own")
    return own


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


# SQLite runs a statement's program once per executemany row: it opens the table's and indexes' cursors, then
# inserts. Narrow rows (the value index, memberships) go in ROWS_PER_STATEMENT at a time as one multi-row VALUES
# instead, which inserts the same rows in the same order, faster (bench/bench_import.py). Wide rows gain nothing:
# copying 14-column rows with their bodies through the VALUES costs more than it saves.
ROWS_PER_STATEMENT = 50
MULTI_ROW_MAX_VALUES = 4


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    fixed: Mapping[str, Any] | None = None,
    fold: Sequence[int] = (),
    ignore_conflicts: bool = False,
) -> None:
    """Bulk-insert plain tuples in the caller's transaction, the fastest way each database offers.

    SQLite: one DBAPI executemany (rows bind straight to a prepared statement), of multi-row statements for
    narrow rows (ROWS_PER_STATEMENT). Binding is a third of the cost of a narrow row, so the `fixed` columns
    (given once, not in the rows) and the columns at the positions in `fold` that hold one value in every row
    are written into the statement as literals instead, when they are numbers or plain words (else bound).
    PostgreSQL: COPY FROM STDIN, which streams the rows in one command; executemany sends one INSERT per row,
    ten times slower for a 1,000-object envelope. Conflicts are errors (COPY has no ON CONFLICT) unless
    `ignore_conflicts`, which skips them (INSERT OR IGNORE; ON CONFLICT DO NOTHING on PostgreSQL).
    """
    if not rows:
        return
    constants = dict(fixed or {})
    spelled = {name: value for name, value in constants.items() if not _literal_type(value)}
    if spelled:  # a constant that is not a plain word is bound like the rows' values, never written as text
        columns = [*columns, *spelled]
        extra = tuple(spelled.values())
        rows = [row + extra for row in rows]
        constants = {name: value for name, value in constants.items() if name not in spelled}
    if is_postgres(conn) and not ignore_conflicts:
        names = ", ".join([*columns, *constants])
        tail = tuple(constants.values())
        raw = conn.connection.driver_connection
        assert raw is not None  # a checked-out connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write(row + tail if tail else row)
        return
    keep = list(range(len(columns)))
    first = rows[0]
    for i in fold:
        value = first[i]
        if _literal_type(value) and list(map(itemgetter(i), rows)).count(value) == len(rows):  # C-speed scans
            constants[columns[i]] = value
            keep.remove(i)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join([*constants, *(columns[i] for i in keep)])
    values = ", ".join([*(_literal(conn, v) for v in constants.values()), *([mark] * len(keep))])
    verb = "INSERT OR IGNORE" if ignore_conflicts and not is_postgres(conn) else "INSERT"
    head = f"{verb} INTO {table} ({names}) VALUES "
    sql = f"{head}({values})"
    if ignore_conflicts and is_postgres(conn):
        sql += " ON CONFLICT DO NOTHING"
    if len(keep) == len(columns):
        bound: Sequence[tuple[Any, ...]] = rows
    elif len(keep) > 1:
        bound = list(map(itemgetter(*keep), rows))
    else:  # itemgetter of one position gives scalars, not 1-tuples
        bound = [tuple(row[i] for i in keep) for row in rows]
    if not is_postgres(conn) and 0 < len(keep) <= MULTI_ROW_MAX_VALUES and len(bound) >= ROWS_PER_STATEMENT:
        whole = len(bound) - len(bound) % ROWS_PER_STATEMENT
        many = head + ", ".join([f"({values})"] * ROWS_PER_STATEMENT)
        flat = iter(chain.from_iterable(bound))
        conn.exec_driver_sql(many, list(zip(*[flat] * (ROWS_PER_STATEMENT * len(keep)), strict=False)))
        bound = bound[whole:]
    if bound:
        conn.exec_driver_sql(sql, bound)


# A string written into SQL text as a literal: a plain word (value kinds such as "hash:sha256", "2.1"). Any
# other string, whatever its origin, is bound as a parameter.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_.:+/-]{0,64}")


def _literal_type(value: Any) -> bool:
    """Whether a constant may be written into the statement: None, a boolean, an integer or a plain word."""
    if isinstance(value, str):
        return _PLAIN_WORD.fullmatch(value) is not None
    return value is None or isinstance(value, (bool, int))


def _literal(conn: Connection, value: Any) -> str:
    """A constant (see _literal_type) as an SQL literal; a plain word holds no quote or percent sign."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if is_postgres(conn) else str(int(value))
    if isinstance(value, int):
        return str(value)
    assert _PLAIN_WORD.fullmatch(value) is not None, "only plain words are written as literals"
    return f"'{value}'"
