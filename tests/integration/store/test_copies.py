"""W3 in the store: an id is held in copies, and what a writer may not read never decides its write.

Each organisation keeps its own copy of an SCO (a value, not a producer's statement); a versioned object that
another organisation holds is versioned only by it when the writer may read it (W2), and is the writer's own,
separate copy when it may not -- exactly as if the id were not stored.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from accord.models.objects import collection_object, stix_object
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp
from accord.store import queries
from accord.store.service import WriteContext, ingest
from tests.builders import TLP_IDS, make_collection, make_indicator, make_ipv4, make_org, ts


def _copies(conn, oid):
    o = stix_object.c
    rows = conn.execute(select(o.owner_org_id, o.version, o.is_latest, o.sole_copy).where(o.id == oid).order_by(o.seq))
    return [tuple(r) for r in rows]


def _told(report):
    """What a writer is told about one write, but for the dates: each outcome, and the counts."""
    shape = [(o.id, o.version, o.status, o.reason) for o in report.outcomes]
    return shape, (report.stored, report.duplicates, report.refused, report.reasons)


def _without_then_with(conn, hold, objects, ctx):
    """The report of a write where the id is not stored (rolled back), then of the same write once `hold` ran."""
    savepoint = conn.begin_nested()
    without = ingest(conn, objects, ctx)
    savepoint.rollback()
    hold()
    return without, ingest(conn, objects, ctx)


def _answers_as_if_absent(conn, world, held, written):
    """Bravo writes `written` into its collection, before and after Alpha holds `held` unreadably (in Alpha's own
    collection): the two answers are the same, and the write stores one object."""
    alpha, bravo, alpha_only, bravo_own = world
    ctx = WriteContext(writer_org_id=bravo.id, collection_id=bravo_own.id, keep_outcomes=True)
    alpha_ctx = WriteContext(writer_org_id=alpha.id, collection_id=alpha_only.id)
    free, answered = _without_then_with(conn, lambda: ingest(conn, [held], alpha_ctx), [written], ctx)
    assert _told(answered) == _told(free)
    assert answered.stored == 1
    return answered


def _world(conn):
    alpha, bravo = make_org(conn), make_org(conn)
    alpha_only = make_collection(conn, readers=[alpha.name], writers=[alpha.name])
    bravo_own = make_collection(conn, readers=[bravo.name], writers=[bravo.name])
    return alpha, bravo, alpha_only, bravo_own


def _reader(conn, org):
    return principal_for(conn, org_id=org.id, role="analyst")


def test_an_sco_another_org_holds_unreadable_is_stored_as_if_it_were_not(conn):
    world = _world(conn)
    alpha, bravo, _, _ = world
    held = make_ipv4("203.0.113.7") | {"object_marking_refs": [TLP_IDS[Tlp.RED]]}
    unmarked = make_ipv4("203.0.113.7")  # same id, another body
    held_report = _answers_as_if_absent(conn, world, held, unmarked)
    # Bravo reads back what it wrote (its own copy, with its own date), Alpha keeps its own
    got = queries.get_latest(conn, _reader(conn, bravo), unmarked["id"])
    assert got == unmarked | {"spec_version": "2.1"}
    assert queries.get_latest(conn, _reader(conn, alpha), held["id"]) == held
    [alpha_row, bravo_row] = conn.execute(
        select(stix_object.c.seq, stix_object.c.owner_org_id).where(stix_object.c.id == held["id"]).order_by("seq")
    ).all()
    assert (alpha_row.owner_org_id, bravo_row.owner_org_id) == (alpha.id, bravo.id)
    assert held_report.outcomes[0].date_added > bravo_row.seq  # its tick in Bravo's collection, after its own seq


def test_an_identical_sco_posted_again_is_a_duplicate_of_the_writers_own_copy(conn):
    alpha, bravo, alpha_only, bravo_own = _world(conn)
    sco = make_ipv4("203.0.113.9")
    ingest(conn, [sco], WriteContext(writer_org_id=alpha.id, collection_id=alpha_only.id))
    ctx = WriteContext(writer_org_id=bravo.id, collection_id=bravo_own.id, keep_outcomes=True)
    first = ingest(conn, [sco], ctx)
    again = ingest(conn, [sco], ctx)
    assert (first.stored, again.duplicates) == (1, 1)
    # the duplicate reports the date of Bravo's copy in Bravo's collection, never Alpha's
    assert again.outcomes[0].date_added == first.outcomes[0].date_added
    alpha_tick = conn.execute(
        select(collection_object.c.tick).where(collection_object.c.collection_id == alpha_only.id)
    ).scalar_one()
    assert first.outcomes[0].date_added > alpha_tick
    # Alpha's copy was not relayed into Bravo's collection: that holds Bravo's own copy only
    m, o = collection_object.c, stix_object.c
    held = conn.execute(
        select(o.owner_org_id)
        .join_from(collection_object, stix_object, o.seq == m.object_seq)
        .where(m.collection_id == bravo_own.id)
    ).scalars()
    assert list(held) == [bravo.id]


def test_an_sco_another_org_shares_readably_still_gets_the_writers_own_copy(conn):
    alpha, bravo, _, bravo_own = _world(conn)
    shared = make_collection(conn, readers=[alpha.name, bravo.name], writers=[alpha.name])
    green = make_ipv4("198.51.100.20") | {"object_marking_refs": [TLP_IDS[Tlp.GREEN]]}
    ingest(conn, [green], WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
    amber = make_ipv4("198.51.100.20") | {"object_marking_refs": [TLP_IDS[Tlp.AMBER]]}
    report = ingest(conn, [amber], WriteContext(writer_org_id=bravo.id, collection_id=bravo_own.id))
    assert report.stored == 1  # its own marking on its own copy, not "a different body is already stored"
    assert queries.get_latest(conn, _reader(conn, bravo), amber["id"]) == amber
    assert queries.get_latest(conn, _reader(conn, alpha), amber["id"]) == green


def test_a_versioned_object_another_org_holds_unreadable_becomes_the_writers_own(conn):
    world = _world(conn)
    alpha, bravo, alpha_only, _ = world
    secret = make_indicator(created=ts(1), tlp=Tlp.RED)
    guess = {**secret, "modified": ts(9), "name": "guessed"}
    _answers_as_if_absent(conn, world, secret, guess)
    assert queries.get_latest(conn, _reader(conn, bravo), secret["id"])["name"] == "guessed"
    assert queries.get_latest(conn, _reader(conn, alpha), secret["id"]) == secret
    # Alpha goes on versioning its own copy; Bravo's does not stand in its way (no squatting)
    later = {**secret, "modified": ts(20), "name": "alpha v2"}
    assert ingest(conn, [later], WriteContext(writer_org_id=alpha.id, collection_id=alpha_only.id)).stored == 1
    assert queries.get_latest(conn, _reader(conn, alpha), secret["id"])["name"] == "alpha v2"


def test_a_readable_object_of_another_org_is_versioned_only_by_its_owner(conn):
    alpha, bravo, _, bravo_own = _world(conn)
    shared = make_collection(conn, readers=[alpha.name, bravo.name], writers=[alpha.name])
    obj = make_indicator(created=ts(1), tlp=Tlp.GREEN)
    ingest(conn, [obj], WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
    ctx = WriteContext(writer_org_id=bravo.id, collection_id=bravo_own.id, keep_outcomes=True)
    refused = ingest(conn, [{**obj, "modified": ts(5)}], ctx)
    assert refused.refused == 1
    assert "W2" in refused.reasons[0]
    # an identical version is a duplicate that re-shares Alpha's version (Bravo may read it: GREEN travels)
    dup = ingest(conn, [obj], ctx)
    assert dup.duplicates == 1
    assert _copies(conn, obj["id"]) == [(alpha.id, "2026-01-01T00:00:01.000000Z", True, True)]
    members = conn.execute(
        select(collection_object.c.collection_id).where(collection_object.c.collection_id == bravo_own.id)
    ).all()
    assert len(members) == 1


def test_sole_copy_is_cleared_on_every_copy_of_an_id_held_twice(conn):
    alpha, bravo, alpha_only, bravo_own = _world(conn)
    v1 = make_indicator(created=ts(1))
    v2 = {**v1, "modified": ts(2), "name": "second"}
    ingest(conn, [v1, v2], WriteContext(writer_org_id=alpha.id, collection_id=alpha_only.id))
    assert [r[3] for r in _copies(conn, v1["id"])] == [True, True]
    ingest(conn, [{**v1, "name": "bravo's"}], WriteContext(writer_org_id=bravo.id, collection_id=bravo_own.id))
    v3 = {**v1, "modified": ts(3), "name": "third"}
    ingest(conn, [v3], WriteContext(writer_org_id=alpha.id, collection_id=alpha_only.id))
    assert _copies(conn, v1["id"]) == [
        (alpha.id, "2026-01-01T00:00:01.000000Z", False, False),
        (alpha.id, "2026-01-01T00:00:02.000000Z", False, False),
        (bravo.id, "2026-01-01T00:00:01.000000Z", True, False),
        (alpha.id, "2026-01-01T00:00:03.000000Z", True, False),
    ]


def test_one_batch_may_hold_an_id_another_copy_holds(conn):
    alpha, bravo, alpha_only, bravo_own = _world(conn)
    sco = make_ipv4("192.0.2.55")
    ingest(conn, [sco], WriteContext(writer_org_id=alpha.id, collection_id=alpha_only.id))
    objs = [make_ipv4(f"192.0.2.{i}") for i in range(50, 60)]
    report = ingest(conn, objs, WriteContext(writer_org_id=bravo.id, collection_id=bravo_own.id))
    assert report.stored == 10
    sole = dict(
        conn.execute(
            select(stix_object.c.id, stix_object.c.sole_copy).where(
                stix_object.c.owner_org_id == bravo.id, stix_object.c.type == "ipv4-addr"
            )
        ).all()
    )
    assert sole[sco["id"]] is False
    assert sum(sole.values()) == 9


def test_readers_see_one_object_per_id_their_own_copy_first(conn):
    alpha, bravo, _, _ = _world(conn)
    charlie = make_org(conn)
    shared = make_collection(conn, readers=[alpha.name, bravo.name, charlie.name], writers=[alpha.name, bravo.name])
    old = make_ipv4("192.0.2.77") | {"object_marking_refs": [TLP_IDS[Tlp.GREEN]]}
    new = make_ipv4("192.0.2.77") | {"object_marking_refs": [TLP_IDS[Tlp.CLEAR]]}
    ingest(conn, [old], WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
    ingest(conn, [new], WriteContext(writer_org_id=bravo.id, collection_id=shared.id))
    for org, expected in ((alpha, old), (bravo, new), (charlie, new)):  # a third org sees the newest copy
        reader = _reader(conn, org)
        assert queries.get_latest(conn, reader, old["id"]) == expected
        listed = [orjson.loads(raw) for _, raw in queries.list_latest(conn, reader)]
        assert [o for o in listed if o["id"] == old["id"]] == [expected]
        assert {k[:2] for k in queries.readable_keys(conn, reader, latest_only=True)} >= {(old["id"], "")}
        assert len(queries.list_versions(conn, reader, old["id"])) == 2  # both copies' versions are readable


def test_one_batch_over_a_link_may_bring_one_id_from_two_owners(conn):
    # A link may speak for several organisations: two of them may send one id, each its own copy of it.
    from sqlalchemy import insert

    from accord.models.collections import peer

    local, alpha, bravo = make_org(conn), make_org(conn), make_org(conn)
    link = conn.execute(
        insert(peer).values(name="p", url="", local_org_id=local.id, created_us=0)
    ).inserted_primary_key[0]
    obj = make_indicator(created=ts(1))
    ctx = WriteContext(writer_org_id=local.id, peer_id=link, peer_org_ids=frozenset({alpha.id, bravo.id}))
    report = ingest(conn, [{**obj, "created_by_ref": alpha.stix_id}, {**obj, "created_by_ref": bravo.stix_id}], ctx)
    assert report.stored == 2
    assert sorted(_copies(conn, obj["id"])) == sorted(
        [(alpha.id, "2026-01-01T00:00:01.000000Z", True, False), (bravo.id, "2026-01-01T00:00:01.000000Z", True, False)]
    )
    # the link's recipient reads one of them (either: both arrived over its link)
    got = queries.get_latest(conn, principal_for(conn, org_id=local.id, role="analyst"), obj["id"])
    assert got is not None
    assert got["created_by_ref"] in (alpha.stix_id, bravo.stix_id)
