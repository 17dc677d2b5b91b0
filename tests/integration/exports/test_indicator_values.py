"""The exports of active values read indicator_value (filled by the store), not JSON: the same values, scores and
activity as the JSON read path (iter_pages), for random indicators, sightings and instants."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.correlate.indicator_values import backfill
from accord.correlate.warninglists import active_matcher
from accord.exports import source
from accord.exports.source import ExportQuery
from accord.sharing.repository import principal_for
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros
from accord.store.service import WriteContext, ingest
from tests.integration.exports.conftest import NOW_US, DemoNode

DAY = 86_400_000_000
_PATTERNS = [
    "[ipv4-addr:value = '45.137.21.{n}']",
    "[ipv4-addr:value = '10.{n}.0.0/16']",
    "[domain-name:value = 'bad{n}.example']",
    "[url:value = 'http://bad{n}.example/x.php'] OR [domain-name:value = 'bad{n}.example']",
    "[url:value = 'http://bad{n}.example/x.php' AND domain-name:value = 'other{n}.example']",
    "[file:hashes.MD5 = '{n:032x}'] OR [file:hashes.'SHA-256' = '{n:064x}']",
    "[domain-name:value = 'google.com']",  # on a warninglist
    "[email-addr:value = 'x{n}@bad.example']",
]


def _stamp(rng: random.Random) -> str:
    return micros_to_timestamp(NOW_US + rng.randint(-400, 30) * DAY + rng.randint(0, DAY))


def _indicator(rng: random.Random, n: int) -> dict[str, Any]:
    created = _stamp(rng)
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created": created,
        "modified": max(created, _stamp(rng)),
        "pattern": rng.choice(_PATTERNS).format(n=n),
        "pattern_type": "stix",
        "valid_from": rng.choice([created, _stamp(rng)]),
    }
    if rng.random() < 0.7:
        obj["name"] = rng.choice(["x", "a long name " * 20, f"indicator {n}"])
    if rng.random() < 0.7:
        obj["confidence"] = rng.randint(0, 100)
    if rng.random() < 0.4:
        obj["labels"] = [f'admiralty-scale:source-reliability="{rng.choice("abcdefg")}"']
    if rng.random() < 0.3:
        start = timestamp_to_micros(obj["valid_from"])
        obj["valid_until"] = micros_to_timestamp(start + rng.randint(1, 200 * DAY))
    if rng.random() < 0.1:
        obj["revoked"] = True
    return obj


def _sighting(rng: random.Random, ref: str) -> dict[str, Any]:
    seen = _stamp(rng)
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created": seen,
        "modified": seen,
        "sighting_of_ref": ref,
        "last_seen": seen,
        "first_seen": seen,
    }


def _json_path(conn: Any, p: Any, query: ExportQuery) -> dict[str, list[tuple[Any, ...]]]:
    """What each readable indicator's JSON gives (source.json_values), checked equal to what CSV and MISP read."""
    out, read = {}, {}
    for page in source.iter_pages(conn, p, query, active_matcher()):
        for i in page:
            read[i.id] = [(v.kind, v.value, v.score, v.active, v.listed) for v in i.values]
            out[i.id] = [
                (v.kind, v.value, v.score, v.active, v.listed) for v in source.json_values(i, query, active_matcher())
            ]
    assert read == out
    return {oid: values for oid, values in out.items() if values}  # an indicator without values exports nothing


def _table_path(conn: Any, p: Any, query: ExportQuery) -> dict[str, list[tuple[Any, ...]]]:
    return {
        i.id: [(v.kind, v.value, v.score, v.active, v.listed) for v in i.values]
        for page in source.indicator_pages(conn, p, query, active_matcher())
        for i in page
        if i.values
    }


@pytest.mark.parametrize(("seed", "page"), [(1, source.PAGE), (2, source.PAGE), (3, 3)])
def test_indicator_values_give_what_the_json_gives(
    demo: DemoNode, seed: int, page: int, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(source, "PAGE", page)  # 3: pages end inside indicators of several values
    rng = random.Random(seed)
    indicators = [_indicator(rng, n) for n in range(120)]
    sightings = [_sighting(rng, rng.choice(indicators)["id"]) for _ in range(40)]
    with get_engine().begin() as conn:
        alpha = accounts.get_org_by_name_or_raise(conn, "CERT Alpha")
        shared = accounts.get_collection_by_alias_or_raise(conn, "shared")
        report = ingest(conn, [*indicators, *sightings], WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
        assert report.stored == 160
        filled = conn.execute(sa.text("SELECT count(*) FROM indicator_value WHERE ord = 0")).scalar()
        indicators_stored = conn.execute(sa.text("SELECT count(*) FROM stix_object WHERE type = 'indicator'")).scalar()
        assert filled == indicators_stored  # the store filled every indicator version (the demo's too)
    seen: set[tuple[str, bool, bool]] = set()  # (kind, active, listed) of the values compared
    with get_engine().connect() as conn:
        for org_name in ("CERT Alpha", "SOC Bravo"):
            org = accounts.get_org_by_name_or_raise(conn, org_name)
            p = principal_for(conn, org_id=org.id, role="analyst")
            for now in (NOW_US, NOW_US + rng.randint(1, 200) * DAY, NOW_US - rng.randint(1, 200) * DAY):
                for kinds, mode, min_score in (
                    (None, "mark", None),
                    (frozenset({"ip", "cidr"}), "omit", 40.0),  # one index kind
                    (frozenset({"md5", "sha256", "domain"}), "mark", None),  # several, merged in seq order
                ):
                    query = ExportQuery(
                        kinds=kinds, warninglists=mode, min_score=min_score, stix_types=("indicator",), now_us=now
                    )
                    expected = _json_path(conn, p, query)
                    seen.update((v[0], v[3], bool(v[4])) for vs in expected.values() for v in vs)
                    assert _table_path(conn, p, query) == expected
    # not a vacuous comparison: active and inactive values of every kind, and a listed one
    assert {(k, a) for k, a, _ in seen} >= {
        (k, a) for k in ("ip", "cidr", "domain", "url", "md5") for a in (True, False)
    }
    assert any(listed for _, _, listed in seen)


def test_versions_the_table_lacks_are_read_from_their_json(demo: DemoNode):
    with get_engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM indicator_value WHERE object_seq IN (SELECT min(seq) FROM stix_object)"))
        conn.execute(sa.text("DELETE FROM indicator_value WHERE ord = 0 AND object_seq % 3 = 0"))
        bravo = accounts.get_org_by_name_or_raise(conn, "SOC Bravo")
        p = principal_for(conn, org_id=bravo.id, role="analyst")
        query = ExportQuery(stix_types=("indicator",), now_us=NOW_US)
        expected = _json_path(conn, p, query)
        assert expected
        assert _table_path(conn, p, query) == expected
        assert backfill(conn) > 0  # what the migration runs: fills the versions without a head row
        assert _table_path(conn, p, query) == expected


def _marked(conn: Any, p: Any) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    query = ExportQuery(kinds=frozenset({"domain"}), warninglists="mark", stix_types=("indicator",), now_us=NOW_US)
    pages = source.indicator_pages(conn, p, query, active_matcher())
    return {i.id: [(v.value, v.listed) for v in i.values] for page in pages for i in page if i.values}


def test_warninglists_recorded_at_write_time_count_only_while_the_lists_are_those(demo: DemoNode):
    listed = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=77, version=4)}",
        "created": micros_to_timestamp(NOW_US - DAY),
        "modified": micros_to_timestamp(NOW_US - DAY),
        "pattern": "[domain-name:value = 'google.com']",
        "pattern_type": "stix",
        "valid_from": micros_to_timestamp(NOW_US - DAY),
    }
    fingerprint = active_matcher().fingerprint
    with get_engine().begin() as conn:
        alpha = accounts.get_org_by_name_or_raise(conn, "CERT Alpha")
        shared = accounts.get_collection_by_alias_or_raise(conn, "shared")
        assert ingest(conn, [listed], WriteContext(writer_org_id=alpha.id, collection_id=shared.id)).stored == 1
        seq = conn.execute(sa.text("SELECT seq FROM stix_object WHERE id = :id"), {"id": listed["id"]}).scalar()
        rows = conn.execute(
            sa.text("SELECT ord, listed, listed_by FROM indicator_value WHERE object_seq = :s ORDER BY ord"), {"s": seq}
        ).all()
        names = tuple(active_matcher().hits("domain", "google.com"))
        assert names  # on a default list
        assert [tuple(r) for r in rows] == [(0, None, fingerprint), (1, "\n".join(names), None)]
        p = principal_for(conn, org_id=alpha.id, role="analyst")
        assert _marked(conn, p)[listed["id"]] == [("google.com", names)]
        # what the store recorded is what an export says while the active lists are those ...
        conn.execute(
            sa.text("UPDATE indicator_value SET listed = 'a list\nanother' WHERE object_seq = :s AND ord = 1"),
            {"s": seq},
        )
        assert _marked(conn, p)[listed["id"]] == [("google.com", ("a list", "another"))]
        # ... and once they are others, the values are matched again at export time
        conn.execute(
            sa.text("UPDATE indicator_value SET listed_by = :f WHERE object_seq = :s AND ord = 0"),
            {"s": seq, "f": fingerprint ^ 1},
        )
        assert _marked(conn, p)[listed["id"]] == [("google.com", names)]
