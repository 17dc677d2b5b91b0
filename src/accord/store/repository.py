"""All SQL of the object store: clock allocation, existing-version lookups, bulk inserts, exports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from accord.core.clock import now_us
from accord.core.db import insert_rows, is_postgres
from accord.models.accounts import org
from accord.models.objects import collection_object, collection_removal, stix_object
from accord.models.objects import node_setting as node_setting_table
from accord.store import daily

# SQLite's default limit on bound parameters is 32766; stay far below it for IN lists.
IN_CHUNK = 900


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def allocate_ticks(conn: Connection, count: int) -> int:
    """Reserve `count` consecutive microsecond ticks; return the first.

    The node_clock row stays locked until the transaction ends, so writers commit in tick order and a
    keyset reader never sees a later tick before an earlier one. Driver-level SQL: this runs per batch.
    """
    if count <= 0:
        return 0
    wanted = now_us() + count - 1  # the last tick when the clock is not ahead of real time
    mark = _marks(conn, 1)
    top = "GREATEST" if is_postgres(conn) else "max"
    sql = f"UPDATE node_clock SET last_us = {top}(last_us + {mark}, {mark}) WHERE id = 1 RETURNING last_us"
    row = conn.exec_driver_sql(sql, (count, wanted)).first()
    if row is None:
        conn.exec_driver_sql(f"INSERT INTO node_clock (id, last_us) VALUES (1, {mark})", (wanted,))
        return wanted - count + 1
    return int(row[0]) - count + 1


def lock_writers(conn: Connection) -> None:
    """PostgreSQL: wait for other writers' transactions to end before reading what is stored (SQLite no-op).

    A writer decides from the stored versions what is new, a duplicate or a conflict. On SQLite, BEGIN
    IMMEDIATE already runs writers one after the other. On PostgreSQL two writers of the same new object
    would both find nothing stored and the second would fail on the unique index; taking the node_clock row
    (which allocate_ticks locks until commit anyway) first makes the second read after the first commits.
    """
    if not is_postgres(conn):
        return
    conn.exec_driver_sql("INSERT INTO node_clock (id, last_us) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
    conn.exec_driver_sql("SELECT last_us FROM node_clock WHERE id = 1 FOR UPDATE")


def org_ids_by_identity(conn: Connection) -> dict[str, int]:
    """Map of organisation identity ids to organisation ids."""
    return {r.stix_id: r.id for r in conn.execute(select(org.c.stix_id, org.c.id))}


def org_identity(conn: Connection, org_id: int) -> str:
    """The id of an organisation's STIX identity object (the organisation exists)."""
    return str(conn.execute(select(org.c.stix_id).where(org.c.id == org_id)).scalar_one())


def local_identities(conn: Connection) -> set[str]:
    """The identity ids of the node's own organisations (not remote records): R6 makes them readable to all."""
    return set(conn.execute(select(org.c.stix_id).where(org.c.is_remote.is_(False))).scalars())


def node_setting(conn: Connection, key: str) -> str | None:
    """A node-wide setting stored in the database, or None."""
    return conn.execute(select(node_setting_table.c.value).where(node_setting_table.c.key == key)).scalar()


def _marks(conn: Connection, n: int) -> str:
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


def existing_versions(conn: Connection, keys: dict[str, int]) -> list[Row[Any]]:
    """Stored versions (without bodies) of the given object ids in every copy, given with their id_key
    (driver-level SQL: this runs per batch). The index finds them by key; rows of another id that shares a key
    are dropped here."""
    rows: list[Row[Any]] = []
    wanted = list(dict.fromkeys(keys.values()))
    for part in chunks(wanted, 5000):
        sql = (
            "SELECT seq, id, version, created, body_hash, owner_org_id, peer_id, tlp, revoked, is_latest "
            f"FROM stix_object WHERE id_key IN ({_marks(conn, len(part))})"
        )
        rows.extend(row for row in conn.exec_driver_sql(sql, tuple(part)) if row.id in keys)
    return rows


def memberships(conn: Connection, seqs: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """The (collection_id, added_by_org_id) memberships of these object versions."""
    c = collection_object.c
    found: dict[int, list[tuple[int, int]]] = {}
    for part in chunks(list(seqs)):
        stmt = select(c.object_seq, c.collection_id, c.added_by_org_id).where(c.object_seq.in_(part))
        for seq, cid, by in conn.execute(stmt):
            found.setdefault(seq, []).append((cid, by))
    return found


def member_ticks(conn: Connection, collection_id: int, seqs: Sequence[int]) -> dict[int, int]:
    """The ticks (date_added) of those of these object versions that are already in the collection."""
    c = collection_object.c
    found: dict[int, int] = {}
    for part in chunks(seqs):
        stmt = select(c.object_seq, c.tick).where(c.collection_id == collection_id, c.object_seq.in_(part))
        found.update((seq, tick) for seq, tick in conn.execute(stmt))
    return found


def mark_shared(conn: Connection, ids: dict[str, int]) -> None:
    """Record that more than one copy now holds each of these ids (given with their id_key)."""
    o = stix_object.c
    for part in chunks(list(ids)):
        conn.execute(
            update(stix_object)
            .where(o.id_key.in_([ids[i] for i in part]), o.id.in_(part), o.sole_copy.is_(True))
            .values(sole_copy=False)
        )


VERSION_COLUMNS = (
    "seq",
    "id",
    "id_key",
    "type",
    "version",
    "created",
    "spec_version",
    "revoked",
    "is_latest",
    "owner_org_id",
    "tlp",
    "peer_id",
    "body_hash",
    "raw",
    "sole_copy",
)
MEMBER_COLUMNS = ("tick", "collection_id", "object_seq", "added_by_org_id")


# Columns that usually hold one value across a batch (one writer, one feed's marking, local, current, 2.1, one copy):
# where they do, insert_rows writes them into the statement instead of binding them per row, which is faster
# on SQLite (bench/bench_import.py).
_VERSION_FOLD = tuple(
    VERSION_COLUMNS.index(c)
    for c in ("spec_version", "revoked", "is_latest", "owner_org_id", "tlp", "peer_id", "sole_copy")
)


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], fold: Sequence[int] = ()
) -> None:
    """Plain tuples in one bulk operation: the hot path skips per-row SQLAlchemy processing."""
    insert_rows(conn, table, columns, rows, fold=fold)


def insert_versions(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert object versions given as tuples in VERSION_COLUMNS order."""
    bulk_insert(conn, stix_object.name, VERSION_COLUMNS, rows, fold=_VERSION_FOLD)


def insert_memberships(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk-insert collection memberships of stored versions, given as tuples in MEMBER_COLUMNS order."""
    if not rows:
        return
    seqs = [r[2] for r in rows]
    before = daily.classes(conn, seqs)
    bulk_insert(conn, collection_object.name, MEMBER_COLUMNS, rows)
    daily.moved(conn, before, seqs)


def insert_stored_memberships(
    conn: Connection, collection_id: int, seqs: range, writer_org_id: int, offset: int
) -> None:
    """Add the versions just stored under `seqs` to a collection, each at tick seq + offset, in one statement.

    The rows are built by the database from the versions themselves: no per-row parameters to bind.
    """
    if not seqs:
        return
    mark = _marks(conn, 1)
    conn.exec_driver_sql(
        f"INSERT INTO {collection_object.name} ({', '.join(MEMBER_COLUMNS)}) "
        f"SELECT seq + {mark}, {mark}, seq, {mark} FROM {stix_object.name} WHERE seq BETWEEN {mark} AND {mark}",
        (offset, collection_id, writer_org_id, seqs[0], seqs[-1]),
    )


def clear_latest(conn: Connection, seqs: Iterable[int]) -> None:
    """Mark versions as no longer the newest of their object."""
    seq_list = list(seqs)
    for part in chunks(seq_list):
        conn.execute(update(stix_object).where(stix_object.c.seq.in_(part)).values(is_latest=False))


ANALYZE_AFTER = 10_000  # stored versions after which a bulk write refreshes PostgreSQL's planner statistics


_HAVE_STATISTICS: set[str] = set()  # PostgreSQL databases (URLs) whose store tables this process saw analyzed


def ensure_statistics(conn: Connection) -> None:
    """PostgreSQL: ANALYZE the store's tables if they hold rows but have never been analyzed (SQLite no-op).

    Without statistics the planner takes a batch's `id_key IN (...)` for most of the table and scans it whole,
    for every batch: a fresh store taking TAXII envelopes spent most of its time there well before autovacuum
    came by. Once analyzed, `id_key` is known to be nearly unique and the estimates follow the table's size as it
    grows, so this runs once per database; the check is cached in this process. It looks for statistics on
    `id_key` itself, which a store analyzed before migration 0005 added the column does not have yet.
    """
    if not is_postgres(conn):
        return
    url = conn.engine.url.render_as_string(hide_password=True)
    if url in _HAVE_STATISTICS:
        return
    found = conn.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = current_schema() "
        "AND tablename = 'stix_object' AND attname = 'id_key')"
    ).scalar()
    if found:
        _HAVE_STATISTICS.add(url)
    else:  # checked again next time: this transaction (and its ANALYZE) may still roll back
        refresh_statistics(conn)


def refresh_statistics(conn: Connection) -> None:
    """ANALYZE the store's tables on PostgreSQL (a no-op on SQLite).

    Right after a bulk load, and wherever autovacuum is off or has not caught up yet, the planner has no row
    counts for the new rows and may scan a whole table for each batch's existing-version lookup.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE stix_object, collection_object, value_index")


def delete_memberships(conn: Connection, ticks: Sequence[int]) -> int:
    """Remove memberships by tick, recording each as a removal that takes a new tick of the node clock."""
    if not ticks:
        return 0
    # Writers first, so that a concurrent delete of the same memberships is seen below and not recorded twice
    # (PostgreSQL; on SQLite the write transaction already holds the lock).
    lock_writers(conn)
    c = collection_object.c
    stmt = select(c.tick, c.collection_id, c.object_seq, c.added_by_org_id)
    rows = sorted(
        (r for part in chunks(sorted(set(ticks))) for r in conn.execute(stmt.where(c.tick.in_(part)))),
        key=lambda r: r.tick,
    )
    if not rows:
        return 0
    first = allocate_ticks(conn, len(rows))  # holds the clock until commit: removals commit in tick order too
    removed_us = now_us()
    conn.execute(
        insert(collection_removal),
        [
            {
                "tick": first + i,
                "collection_id": r.collection_id,
                "object_seq": r.object_seq,
                "added_by_org_id": r.added_by_org_id,
                "removed_us": removed_us,
            }
            for i, r in enumerate(rows)
        ],
    )
    seqs = [r.object_seq for r in rows]
    before = daily.classes(conn, seqs)
    removed = 0
    for part in chunks([r.tick for r in rows]):
        removed += int(conn.execute(delete(collection_object).where(c.tick.in_(part))).rowcount or 0)
    daily.moved(conn, before, seqs)
    return removed
