"""PostgreSQL planner statistics: a store's first write leaves them, so batches probe the index, not the table."""

from __future__ import annotations

import re
import uuid

from accord.stix.ids import id_key
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator, make_org


def test_the_first_write_gives_the_planner_statistics(conn, db_url):
    org = make_org(conn)
    report = ingest(conn, [make_indicator() for _ in range(5000)], WriteContext(writer_org_id=org.id))
    assert report.stored == 5000
    if not db_url.startswith("postgresql"):
        return  # SQLite's planner needs no statistics for this: the write above just must not fail
    distinct = conn.exec_driver_sql(
        "SELECT n_distinct FROM pg_stats WHERE tablename = 'stix_object' AND attname = 'id'"
    ).scalar()
    assert distinct == -1  # every id distinct, as a fraction of the rows: estimates follow the table as it grows
    ids = tuple(f"indicator--{uuid.uuid4()}" for _ in range(500))
    plan = conn.exec_driver_sql(
        f"EXPLAIN SELECT seq, id FROM stix_object WHERE id IN ({', '.join(['%s'] * len(ids))})", ids
    ).scalar()
    # Without statistics a batch of 500 ids is taken for a quarter of the table (1,250 rows here, 25,000 in a
    # store of 100,000), which on a large store means scanning it whole for every batch.
    found = re.search(r"rows=(\d+)", plan)
    assert found is not None, plan
    assert int(found[1]) <= len(ids)
    # The same for the key the store's existing-version lookup goes by (accord.store.repository).
    key_distinct = conn.exec_driver_sql(
        "SELECT n_distinct FROM pg_stats WHERE tablename = 'stix_object' AND attname = 'id_key'"
    ).scalar()
    assert key_distinct == -1
    keys = tuple(id_key(i) for i in ids)
    plan = conn.exec_driver_sql(
        f"EXPLAIN SELECT seq, id FROM stix_object WHERE id_key IN ({', '.join(['%s'] * len(keys))})", keys
    ).scalar()
    found = re.search(r"rows=(\d+)", plan)
    assert found is not None, plan
    assert int(found[1]) <= len(keys)


def test_statements_are_planned_with_their_own_values(engine, db_url):
    # A statement prepared on the server may keep a generic plan made while a table was small (a sequential scan
    # of what later holds a million rows): Accord's PostgreSQL connections never prepare statements.
    if not db_url.startswith("postgresql"):
        return  # SQLite plans each statement when it is prepared, from the schema alone
    with engine.connect() as c:
        raw = c.connection.driver_connection
        assert raw is not None
        assert raw.prepare_threshold is None
