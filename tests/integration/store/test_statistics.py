"""PostgreSQL planner statistics: a store's first write leaves them, so batches probe the index, not the table."""

from __future__ import annotations

import re
import uuid

import pytest

from accord.stix.ids import id_key
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator, make_org


@pytest.mark.postgresql("SQLite's planner needs no statistics for this")
def test_the_first_write_gives_the_planner_statistics(conn):
    org = make_org(conn)
    report = ingest(conn, [make_indicator() for _ in range(5000)], WriteContext(writer_org_id=org.id))
    assert report.stored == 5000
    ids = tuple(f"indicator--{uuid.uuid4()}" for _ in range(500))
    # Without statistics a batch of 500 ids is taken for a quarter of the table (1,250 rows here, 25,000 in a
    # store of 100,000), which on a large store means scanning it whole for every batch. The same for the key the
    # store's existing-version lookup goes by (accord.store.repository).
    _assert_estimated_as_unique(conn, "id", ids)
    _assert_estimated_as_unique(conn, "id_key", tuple(id_key(i) for i in ids))


def _assert_estimated_as_unique(conn, column, values):
    distinct = conn.exec_driver_sql(
        f"SELECT n_distinct FROM pg_stats WHERE tablename = 'stix_object' AND attname = '{column}'"
    ).scalar()
    assert distinct == -1  # every value distinct, as a fraction of the rows: estimates follow the table as it grows
    plan = conn.exec_driver_sql(
        f"EXPLAIN SELECT seq, id FROM stix_object WHERE {column} IN ({', '.join(['%s'] * len(values))})", values
    ).scalar()
    found = re.search(r"rows=(\d+)", plan)
    assert found is not None, plan
    assert int(found[1]) <= len(values)


@pytest.mark.postgresql("SQLite plans each statement when it is prepared, from the schema alone")
def test_statements_are_planned_with_their_own_values(engine):
    # A statement prepared on the server may keep a generic plan made while a table was small (a sequential scan
    # of what later holds a million rows): Accord's PostgreSQL connections never prepare statements.
    with engine.connect() as c:
        raw = c.connection.driver_connection
        assert raw is not None
        assert raw.prepare_threshold is None
