"""The blocklist and RPZ read active values straight from indicator_value (accord.exports.active): exactly the
values, in the same order, that the indicators the other exports score (source.indicator_pages) call active and
unlisted, for random indicators, sightings, instants, kinds and score floors, and for a store the table lacks
versions of."""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.correlate.warninglists import active_matcher
from accord.exports import active, source
from accord.exports.lists import BLOCKLIST_KINDS
from accord.exports.source import ExportQuery
from accord.sharing.repository import principal_for
from accord.store.service import WriteContext, ingest
from tests.integration.exports.conftest import NOW_US, DemoNode
from tests.integration.exports.test_indicator_values import DAY, _indicator, _sighting


def _scored(conn: Any, p: Any, query: ExportQuery, kind: str) -> list[str]:
    pages = source.indicator_pages(conn, p, query, active_matcher())
    return [v.value for page in pages for i in page for v in i.values if v.kind == kind and v.active and not v.listed]


def _streamed(conn: Any, p: Any, query: ExportQuery) -> list[str]:
    return [value for batch in active.values(conn, p, query, active_matcher()) for value in batch]


def _compare(conn: Any, rng: random.Random) -> set[tuple[str, bool]]:
    """Both reads for every org, kind, a few instants and score floors; the (kind, some listed) compared."""
    compared = set()
    for org_name in ("CERT Alpha", "SOC Bravo"):
        org = accounts.get_org_by_name_or_raise(conn, org_name)
        p = principal_for(conn, org_id=org.id, role="analyst")
        for now in (NOW_US, NOW_US + rng.randint(1, 200) * DAY, NOW_US - rng.randint(1, 200) * DAY):
            for kind in BLOCKLIST_KINDS:
                for min_score in (None, float(rng.randint(20, 90))):
                    query = ExportQuery(
                        kinds=frozenset({kind}), min_score=min_score, stix_types=("indicator",), now_us=now
                    )
                    expected = _scored(conn, p, query, kind)
                    assert _streamed(conn, p, query) == expected, (org_name, now, kind, min_score)
                    compared.add((kind, bool(expected)))
    return compared


def test_streamed_active_values_are_the_scored_ones(demo: DemoNode):
    rng = random.Random(5)
    indicators = [_indicator(rng, n) for n in range(150)]
    sightings = [_sighting(rng, rng.choice(indicators)["id"]) for _ in range(50)]
    with get_engine().begin() as conn:
        alpha = accounts.get_org_by_name_or_raise(conn, "CERT Alpha")
        shared = accounts.get_collection_by_alias_or_raise(conn, "shared")
        context = WriteContext(writer_org_id=alpha.id, collection_id=shared.id)
        assert ingest(conn, [*indicators, *sightings], context).stored == 200
        compared = _compare(conn, rng)
        # not vacuous: a non-empty list of every kind the random patterns hold (their CIDRs are private: listed)
        assert {k for k, some in compared if some} >= {"ip", "domain", "url", "md5", "sha256"}
        # values matched against other warninglists when stored are matched again now, as scoring does
        conn.execute(sa.text("UPDATE indicator_value SET listed_by = listed_by + 1 WHERE ord = 0"))
        _compare(conn, rng)


def test_a_store_the_table_lacks_versions_of_gives_the_same_values(demo: DemoNode):
    with get_engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM indicator_value WHERE ord = 0 AND object_seq % 2 = 0"))
        assert not source.all_indexed(conn)
        _compare(conn, random.Random(6))
