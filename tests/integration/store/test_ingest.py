"""The object store: versioning rules, validation outcomes, bulk writes."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from accord.models.objects import collection_object, stix_object
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_collection, make_indicator, make_ipv4, make_org, ts


def _rows(conn, oid):
    return conn.execute(select(stix_object).where(stix_object.c.id == oid).order_by(stix_object.c.version)).all()


def test_every_version_is_kept_and_only_the_newest_is_latest(conn):
    org = make_org(conn)
    v1 = make_indicator(created=ts(1), modified=ts(1))
    v2 = {**v1, "modified": ts(2), "name": "second"}
    v3 = {**v1, "modified": ts(3), "name": "third"}
    report = ingest(conn, [v2, v1], WriteContext(writer_org_id=org.id))
    report2 = ingest(conn, [v3], WriteContext(writer_org_id=org.id))
    assert (report.stored, report2.stored) == (2, 1)
    rows = _rows(conn, v1["id"])
    assert [r.version for r in rows] == [
        "2026-01-01T00:00:01.000000Z",
        "2026-01-01T00:00:02.000000Z",
        "2026-01-01T00:00:03.000000Z",
    ]
    assert [r.is_latest for r in rows] == [False, False, True]
    assert orjson.loads(rows[-1].raw)["name"] == "third"


def test_identical_resubmission_is_a_no_op(conn):
    org = make_org(conn)
    obj = make_indicator()
    ingest(conn, [obj], WriteContext(writer_org_id=org.id))
    again = ingest(conn, [obj, dict(obj)], WriteContext(writer_org_id=org.id))
    assert (again.stored, again.duplicates, again.refused) == (0, 2, 0)
    assert len(_rows(conn, obj["id"])) == 1


def test_different_body_under_same_version_is_refused(conn):
    org = make_org(conn)
    obj = make_indicator()
    ingest(conn, [obj], WriteContext(writer_org_id=org.id))
    report = ingest(conn, [{**obj, "name": "tampered"}], WriteContext(writer_org_id=org.id))
    assert report.refused == 1
    assert "different body is already stored" in report.reasons[0]
    assert orjson.loads(_rows(conn, obj["id"])[0].raw)["name"] == obj["name"]


def test_a_first_version_admits_no_older_one(conn):
    # A version whose modified equals its created is the object's first (lookups rely on it for first seen).
    org = make_org(conn)
    ctx = WriteContext(writer_org_id=org.id)
    first = make_indicator(created=ts(5), modified=ts(5))
    assert ingest(conn, [first], ctx).stored == 1
    older = {**first, "created": ts(1), "modified": ts(3)}
    report = ingest(conn, [older], ctx)
    assert report.refused == 1
    assert "is this object's first (its modified equals its created)" in report.reasons[0]
    # Versions that keep to it, and later ones that move created (feeds do), are stored.
    later = {**first, "created": ts(4), "modified": ts(9), "name": "moved"}
    assert ingest(conn, [{**first, "modified": ts(7), "name": "kept"}, later], ctx).stored == 2

    other = make_indicator(created=ts(1), modified=ts(2))
    claims_first = {**other, "created": ts(6), "modified": ts(6)}
    report = ingest(conn, [other, claims_first], ctx)
    assert (report.stored, report.refused) == (1, 1)
    assert "makes it the object's first, but an older one is stored" in report.reasons[0]
    assert [r.version[-10:] for r in _rows(conn, other["id"])] == ["02.000000Z"]


def test_revoked_object_accepts_no_later_versions(conn):
    org = make_org(conn)
    obj = make_indicator(created=ts(1))
    revoked = {**obj, "modified": ts(2), "revoked": True}
    later = {**obj, "modified": ts(3), "name": "back from the dead"}
    report = ingest(conn, [obj, revoked, later], WriteContext(writer_org_id=org.id))
    assert (report.stored, report.refused) == (2, 1)
    assert "revoked" in report.reasons[0]
    assert _rows(conn, obj["id"])[-1].revoked is True


def test_sco_has_one_version_and_changed_body_is_refused(conn):
    org = make_org(conn)
    ip = make_ipv4("203.0.113.7")
    assert ingest(conn, [ip], WriteContext(writer_org_id=org.id)).stored == 1
    changed = {**ip, "x_note": "extra"}
    report = ingest(conn, [changed], WriteContext(writer_org_id=org.id))
    assert report.refused == 1
    assert "one version" in report.reasons[0] or "not versioned" in report.reasons[0]


def test_invalid_objects_are_refused_individually_and_the_rest_stored(conn):
    org = make_org(conn)
    good = make_indicator()
    bad_pattern = make_indicator(pattern="[ipv4-addr:value = ")
    wrong_sco = {**make_ipv4("192.0.2.1"), "value": "192.0.2.2"}
    report = ingest(conn, [good, bad_pattern, wrong_sco, "not an object"], WriteContext(writer_org_id=org.id))
    assert (report.stored, report.refused) == (1, 3)
    assert any("pattern" in r for r in report.reasons)
    assert any("deterministic" in r for r in report.reasons)


def test_nul_characters_are_refused_on_every_database(conn):
    """PostgreSQL text cannot hold NUL; SQLite could, but both refuse it alike, with the reason."""
    org = make_org(conn)
    in_value = make_indicator(pattern="[domain-name:value = 'evil\u0000.example']")
    in_name = make_indicator(name="nul \u0000 in a name")
    in_key = {**make_indicator(), "x_\u0000": "key"}
    literal = make_indicator(description="C:\\u0000 is text, not a NUL")
    report = ingest(conn, [in_value, in_name, in_key, literal], WriteContext(writer_org_id=org.id))
    assert (report.stored, report.refused) == (1, 3)
    assert all("NUL character" in r for r in report.reasons)
    assert orjson.loads(_rows(conn, literal["id"])[0].raw)["description"] == literal["description"]


def test_records_owner_tlp_date_added_and_memberships(conn):
    from accord.stix.markings import Tlp

    org = make_org(conn)
    col = make_collection(conn, readers=[org.name], writers=[org.name])
    a, b = make_indicator(tlp=Tlp.RED), make_indicator()
    report = ingest(conn, [a, b], WriteContext(writer_org_id=org.id, collection_id=col.id))
    rows = conn.execute(
        select(stix_object).where(stix_object.c.seq.in_(report.stored_seqs)).order_by(stix_object.c.seq)
    ).all()
    assert [r.tlp for r in rows] == [int(Tlp.RED), None]
    assert all(r.owner_org_id == org.id for r in rows)
    assert rows[0].seq < rows[1].seq  # strictly increasing, microsecond date_added
    members = conn.execute(select(collection_object).where(collection_object.c.collection_id == col.id)).all()
    assert sorted(m.object_seq for m in members) == sorted(report.stored_seqs)


def test_columns_one_value_across_a_batch_are_stored_as_given(conn):
    # A batch whose versions share a column's value has it written into the statement (repository._VERSION_FOLD):
    # what is stored must be what binding it per row stores.
    from accord.stix.markings import Tlp
    from accord.stix.timestamps import normalize_timestamp

    org = make_org(conn)
    ctx = WriteContext(writer_org_id=org.id)
    amber = [make_indicator(tlp=Tlp.AMBER), make_indicator(tlp=Tlp.AMBER)]
    revoked = make_indicator(revoked=True)
    v1 = make_indicator(created=ts(1), modified=ts(1))
    v2 = {**v1, "modified": ts(2), "name": "second"}
    for batch in (amber, [revoked], [v1, v2]):
        assert ingest(conn, batch, ctx).stored == len(batch)
    got = {
        (r.id, r.version): (r.tlp, r.revoked, r.is_latest, r.owner_org_id, r.peer_id, r.spec_version)
        for r in conn.execute(select(stix_object))
    }
    assert [got[(o["id"], normalize_timestamp(o["modified"]))] for o in (*amber, revoked, v1, v2)] == [
        (int(Tlp.AMBER), False, True, org.id, None, "2.1"),
        (int(Tlp.AMBER), False, True, org.id, None, "2.1"),
        (None, True, True, org.id, None, "2.1"),
        (None, False, False, org.id, None, "2.1"),
        (None, False, True, org.id, None, "2.1"),
    ]


def test_duplicate_published_into_second_collection_gets_membership(conn):
    org = make_org(conn)
    c1 = make_collection(conn, readers=[org.name], writers=[org.name])
    c2 = make_collection(conn, readers=[org.name], writers=[org.name])
    obj = make_indicator()
    ingest(conn, [obj], WriteContext(writer_org_id=org.id, collection_id=c1.id))
    report = ingest(conn, [obj], WriteContext(writer_org_id=org.id, collection_id=c2.id))
    assert report.duplicates == 1
    cols = conn.execute(select(collection_object.c.collection_id)).scalars().all()
    assert sorted(cols) == sorted([c1.id, c2.id])


def test_many_duplicates_published_into_another_collection_each_get_one_membership(conn):
    # More memberships than one multi-row statement holds (accord.core.db.ROWS_PER_STATEMENT), plus a remainder.
    org = make_org(conn)
    c1, c2 = (make_collection(conn, readers=[org.name], writers=[org.name]) for _ in range(2))
    objs = [make_indicator() for _ in range(123)]
    first = ingest(conn, objs, WriteContext(writer_org_id=org.id, collection_id=c1.id))
    again = ingest(conn, [*objs, objs[0]], WriteContext(writer_org_id=org.id, collection_id=c2.id))
    assert (first.stored, again.duplicates) == (123, 124)
    c = collection_object.c
    members = conn.execute(select(c.object_seq, c.tick).where(c.collection_id == c2.id).order_by(c.tick)).all()
    assert [m.object_seq for m in members] == first.stored_seqs  # each once, in the order they were given


def test_w1_created_by_ref_of_another_org_is_refused(conn):
    mine, theirs = make_org(conn), make_org(conn)
    obj = make_indicator(created_by_ref=theirs.stix_id)
    own = make_indicator(created_by_ref=mine.stix_id)
    report = ingest(conn, [obj, own], WriteContext(writer_org_id=mine.id))
    assert (report.stored, report.refused) == (1, 1)
    assert "W1" in report.reasons[0]


def test_w2_only_the_owner_versions_an_object(conn):
    owner, other = make_org(conn), make_org(conn)
    shared = make_collection(conn, readers=[owner.name, other.name], writers=[owner.name])
    obj = make_indicator(created=ts(1), tlp=Tlp.GREEN)
    ingest(conn, [obj], WriteContext(writer_org_id=owner.id, collection_id=shared.id))
    report = ingest(conn, [{**obj, "modified": ts(5)}], WriteContext(writer_org_id=other.id))
    assert report.refused == 1
    assert "W2" in report.reasons[0]
    assert len(_rows(conn, obj["id"])) == 1


def test_batches_are_written_one_after_the_other_with_one_set_of_rules(conn):
    # A producer prepares the next batch while the previous one is written: each batch must be stored before
    # the next is asked for, and a later batch is judged against what the earlier ones stored.
    from accord.store.prepare import prepare_all
    from accord.store.service import ingest_batches

    org = make_org(conn)
    first = make_indicator(created=ts(1), modified=ts(1))
    newer = {**first, "modified": ts(2), "name": "newer"}
    tampered = {**first, "name": "tampered"}
    seen: list[int] = []

    def batches():
        yield prepare_all([first, make_indicator()], 1 << 20)
        seen.append(len(_rows(conn, first["id"])))  # asked for the second batch: the first is already stored
        yield prepare_all([dict(first), tampered, newer], 1 << 20)

    report = ingest_batches(conn, batches(), WriteContext(writer_org_id=org.id))
    assert seen == [1]
    assert (report.stored, report.duplicates, report.refused) == (3, 1, 1)
    assert "different body is already stored" in report.reasons[0]
    assert [r.is_latest for r in _rows(conn, first["id"])] == [False, True]


def test_value_index_rows_flushed_during_a_call_are_those_of_one_insert_at_its_end(conn, monkeypatch):
    from accord.store import service
    from accord.store.prepare import prepare_all
    from accord.store.service import ingest_batches

    org = make_org(conn)
    objs = [
        make_indicator(pattern=f"[ipv4-addr:value = '10.0.{i % 3}.{i}'] OR [domain-name:value = 'x{i}.example']")
        for i in range(12)
    ]
    objs += [make_ipv4(f"10.0.0.{i}") for i in range(6)]

    def index(flush: int) -> list[tuple]:
        monkeypatch.setattr(service, "INDEX_FLUSH", flush)
        savepoint = conn.begin_nested()
        batches = (prepare_all(objs[i : i + 4], 1 << 20) for i in range(0, len(objs), 4))
        ingest_batches(conn, batches, WriteContext(writer_org_id=org.id))
        seqs = dict(conn.exec_driver_sql("SELECT seq, id FROM stix_object").all())
        rows = conn.exec_driver_sql("SELECT kind, key, object_seq, value, lo, hi, correlating FROM value_index").all()
        savepoint.rollback()
        return sorted((r[0], r[1], seqs.get(r[2], r[2]), *r[3:]) for r in rows)  # seqs differ: compare by id

    once = index(1_000_000)
    # every object has rows (the organisation's identity too: its name's search words)
    assert {r[2] for r in once} >= {o["id"] for o in objs}
    assert index(5) == once  # flushed after every second batch
    assert index(1) == once  # after every batch
