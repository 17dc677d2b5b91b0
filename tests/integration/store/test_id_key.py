"""Objects are found through id_key, a 64-bit digest of their id: ids that share a key never mix."""

from __future__ import annotations

import sys

import orjson
import pytest
from sqlalchemy import select

from accord.correlate import repository as correlations
from accord.models.objects import stix_object
from accord.sharing.repository import principal_for
from accord.stix import ids as stix_ids
from accord.store import queries
from accord.store.service import WriteContext, ingest
from accord.taxii import repository as taxii_repo
from accord.taxii.filters import Filters
from tests.builders import make_collection, make_indicator, make_ipv4, make_org, ts


@pytest.fixture
def one_key_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every id gets the same key, as if all ids collided (real keys collide once in 2**64 pairs)."""
    original = stix_ids.id_key
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("accord") and getattr(module, "id_key", None) is original:
            monkeypatch.setattr(module, "id_key", lambda _stix_id: 42)


def test_stored_versions_carry_the_key_of_their_id(conn):
    org = make_org(conn)
    objs = [make_indicator(), make_ipv4("203.0.113.9"), make_indicator()]
    assert ingest(conn, objs, WriteContext(writer_org_id=org.id)).stored == 3
    rows = dict(conn.execute(select(stix_object.c.id, stix_object.c.id_key)).all())  # with the org's identity
    assert {o["id"] for o in objs} <= rows.keys()
    assert all(key == stix_ids.id_key(oid) for oid, key in rows.items())
    assert len(set(rows.values())) == len(rows)


def test_ids_that_share_a_key_never_mix(conn, one_key_for_all):
    org = make_org(conn)
    coll = make_collection(conn, readers=[org.name], writers=[org.name])
    ctx = WriteContext(writer_org_id=org.id, collection_id=coll.id)
    a1 = make_indicator(created=ts(1), modified=ts(1))
    a2 = {**a1, "modified": ts(2), "name": "a, second version"}
    b = make_indicator(created=ts(1), modified=ts(1))  # same version as a1
    sco = make_ipv4("203.0.113.9")
    assert ingest(conn, [a1, b, sco], ctx).stored == 3
    # Versioning decisions look at the object's own versions only: a1's version is not b's.
    report = ingest(conn, [a2, dict(b), {**b, "name": "tampered"}, dict(sco)], ctx)
    assert (report.stored, report.duplicates, report.refused) == (1, 2, 1)
    assert "different body is already stored" in report.reasons[0]
    assert conn.execute(select(stix_object.c.id_key).distinct()).scalars().all() == [42]

    reader = principal_for(conn, org_id=org.id, role="analyst")
    assert queries.list_versions(conn, reader, a1["id"]) == [
        "2026-01-01T00:00:01.000000Z",
        "2026-01-01T00:00:02.000000Z",
    ]
    assert queries.list_versions(conn, reader, b["id"]) == ["2026-01-01T00:00:01.000000Z"]
    assert queries.get_latest(conn, reader, b["id"])["name"] == b["name"]
    assert queries.get_latest(conn, reader, a1["id"])["name"] == "a, second version"
    latest = correlations.latest_objects(conn, reader, [a1["id"], sco["id"]])
    assert sorted((r.id, orjson.loads(r.raw).get("name")) for r in latest) == sorted(
        [(a1["id"], "a, second version"), (sco["id"], None)]
    )
    assert correlations.latest_readable(conn, reader, b["id"]).id == b["id"]
    rows = taxii_repo.page(
        conn, reader, coll.id, Filters(versions=("all",)), after_tick=None, limit=10, object_id=b["id"]
    )
    assert [r.id for r in rows] == [b["id"]]
    rows = taxii_repo.page(
        conn, reader, coll.id, Filters(ids=(a1["id"],), versions=("first",)), after_tick=None, limit=10
    )
    assert [(r.id, r.version) for r in rows] == [(a1["id"], "2026-01-01T00:00:01.000000Z")]


def _plan(conn, stmt, params) -> str:
    if conn.dialect.name == "sqlite":
        return " ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params))
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # small test tables: would the index serve at all?
    return " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + stmt, params))


def test_reads_by_id_go_through_the_key_index(conn, engine):
    org = make_org(conn)
    objs = [make_indicator() for _ in range(50)]
    ingest(conn, objs, WriteContext(writer_org_id=org.id))
    reader = principal_for(conn, org_id=org.id, role="analyst")
    seen: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany and "stix_object" in statement:
            seen.append((statement, parameters))

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", capture)
    try:
        queries.get_latest(conn, reader, objs[0]["id"])
        queries.list_versions(conn, reader, objs[0]["id"])
        correlations.latest_readable(conn, reader, objs[0]["id"])
        correlations.latest_objects(conn, reader, [o["id"] for o in objs[:3]])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(seen) == 4
    for stmt, params in seen:
        assert "ix_stix_object_id_key" in _plan(conn, stmt, params), stmt


def test_migration_fills_the_keys_of_a_store_that_had_none(engine):
    from alembic import command
    from sqlalchemy import inspect

    from accord.core.migrate import alembic_config, upgrade

    with engine.begin() as conn:
        org = make_org(conn)
        objs = [make_indicator(), make_ipv4("203.0.113.9")]
        ingest(conn, objs, WriteContext(writer_org_id=org.id))
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")  # the store as it was: no id_key, a unique (id, version) index
    assert "id_key" not in {c["name"] for c in inspect(engine).get_columns("stix_object")}
    upgrade(engine)
    with engine.begin() as conn:
        rows = dict(conn.execute(select(stix_object.c.id, stix_object.c.id_key)).all())
        assert all(key == stix_ids.id_key(oid) for oid, key in rows.items())
        reader = principal_for(conn, org_id=org.id, role="analyst")
        assert queries.get_latest(conn, reader, objs[0]["id"])["name"] == objs[0]["name"]
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("stix_object")}
    assert "ix_stix_object_id_key" in indexes
    assert "uq_stix_object_id_version" not in indexes
