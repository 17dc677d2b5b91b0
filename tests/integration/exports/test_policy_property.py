"""The export read paths held to the one policy on random communities (the worlds of the sharing property test):
every export reads exactly the latest versions the predicate face allows, per reader and per collection."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings

from accord.correlate.indicator_values import backfill
from accord.correlate.warninglists import active_matcher
from accord.exports import source
from accord.exports.lists import csv_rows
from accord.exports.source import ExportQuery
from accord.sharing.policy import Principal, Role, can_read
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp
from tests.integration.sharing.test_policy_property import World, _facts, _load, _preferred, _value_of, worlds


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(w=worlds())
def test_exports_read_exactly_the_readable_latest_versions(engine, w: World):
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            org_ids, _groups, col_ids, peer_ids = _load(conn, w)
            facts = [(ob, _facts(ob, org_ids, col_ids, peer_ids, w.remote)) for ob in w.objects]
            for o in range(w.n_orgs):
                for role in Role:
                    p = principal_for(conn, org_id=org_ids[o], role=role.value)
                    _check(conn, p, facts, col_ids)
            # the same worlds once indicator_value holds their indicators (the store fills it; here the backfill)
            backfill(conn)
            for o in range(w.n_orgs):
                for role in Role:
                    p = principal_for(conn, org_id=org_ids[o], role=role.value)
                    _check_indicators(conn, p, facts, col_ids)
        finally:
            trans.rollback()


def _rows(conn, p: Principal, query: ExportQuery) -> set[tuple[str, int]]:
    return {(r.id, r.seq) for page in source.readable_rows(conn, p, query) for r in page}


def _check(conn, p: Principal, facts, col_ids) -> None:
    readable = [(ob, f) for ob, f in facts if can_read(p, f)]
    chosen = _preferred(p, readable)
    every = ExportQuery(stix_types=())
    assert _rows(conn, p, every) == {(ob["id"], ob["seq"]) for ob in chosen.values()}
    for c, cid in enumerate(col_ids):
        in_col = _preferred(p, [(ob, f) for ob, f in readable if any(m == c for m, _ in ob["memberships"])])
        assert _rows(conn, p, ExportQuery(stix_types=(), collection_id=cid)) == {
            (ob["id"], ob["seq"]) for ob in in_col.values()
        }
    # the CSV of values (the items every value format is made of) names exactly the readable holders of values
    pages = source.iter_pages(conn, p, ExportQuery(), active_matcher())
    body = b"".join(csv_rows(pages, ("id", "value"), {}, Tlp.AMBER)).decode()
    got = {tuple(r) for r in list(csv.reader(io.StringIO(body, newline="")))[1:]}
    assert {oid for oid, _ in got} == {oid for oid, ob in chosen.items() if _value_of(ob) is not None}
    assert all(value == _value_of(chosen[oid]) for oid, value in got)
    _check_indicators(conn, p, facts, col_ids)


def _check_indicators(conn, p: Principal, facts, col_ids) -> None:
    """The exports of active values (blocklist, RPZ, Suricata) name exactly the readable latest indicators."""
    readable = [(ob, f) for ob, f in facts if can_read(p, f)]
    wl = active_matcher()
    for c, cid in [(None, None), *enumerate(col_ids)]:
        chosen = _preferred(
            p, [(ob, f) for ob, f in readable if c is None or any(m == c for m, _ in ob["memberships"])]
        )
        query = ExportQuery(stix_types=("indicator",), collection_id=cid)
        got = {(i.id, v.value) for page in source.indicator_pages(conn, p, query, wl) for i in page for v in i.values}
        assert got == {(oid, _value_of(ob)) for oid, ob in chosen.items() if ob["type"] == "indicator"}
