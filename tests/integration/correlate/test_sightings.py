"""Sightings by value or by object: stored as STIX through the store, refreshing the decayed score."""

from __future__ import annotations

import orjson
import pytest

from accord.core.clock import now_us
from accord.core.errors import BadRequest, Forbidden, NotFound
from accord.correlate.lookup import lookup
from accord.sightings.service import record_sighting
from accord.stix.timestamps import micros_to_timestamp
from accord.store import queries
from tests.integration.correlate.conftest import Community, ind


def test_sighting_of_a_value_creates_then_reuses_one_indicator(community: Community) -> None:
    alpha = community.who("Alpha")
    first = record_sighting(community.conn, alpha, collection="shared", value="hxxp://evil-actor[.]com/gate")
    again = record_sighting(community.conn, alpha, collection="shared", value="http://evil-actor.com/gate", count=4)
    assert first["indicator_created"]
    assert not again["indicator_created"]
    assert first["sighting_of_ref"] == again["sighting_of_ref"]
    indicator = queries.get_latest(community.conn, alpha, first["sighting_of_ref"])
    assert indicator is not None
    assert indicator["pattern"] == "[url:value = 'http://evil-actor.com/gate']"
    assert indicator["created_by_ref"] == community.identity("Alpha")
    sighting = queries.get_latest(community.conn, community.who("Bravo"), again["id"])
    assert sighting is not None
    assert sighting["count"] == 4
    assert sighting["where_sighted_refs"] == [community.identity("Alpha")]
    [url] = [
        v for v in lookup(community.conn, alpha, ["http://evil-actor.com/gate"])[0]["values"] if v["kind"] == "url"
    ]
    assert url["matches"][0]["sightings"] == 2


def test_an_indicator_posted_under_a_guessable_id_does_not_take_a_sighting(community: Community) -> None:
    # Bravo posts, readable to Alpha, an indicator under the id Accord used to derive from public facts (Alpha's
    # identity, the kind and the value): Alpha's sighting of that value still makes and uses Alpha's own.
    import uuid

    from accord.sightings import service as sightings

    guessed = f"indicator--{uuid.uuid5(sightings._NS, community.identity('Alpha') + '|domain|squat.example')}"
    community.put("Bravo", "shared", ind("[domain-name:value = 'squat.example']") | {"id": guessed})
    got = record_sighting(community.conn, community.who("Alpha"), collection="shared", value="squat.example")
    assert got["indicator_created"]
    assert got["sighting_of_ref"] != guessed
    mine = queries.get_latest(community.conn, community.who("Alpha"), got["sighting_of_ref"])
    assert mine is not None
    assert mine["created_by_ref"] == community.identity("Alpha")
    # and the same value sighted by Bravo gathers on Bravo's own indicator, another id
    theirs = record_sighting(community.conn, community.who("Bravo"), collection="shared", value="squat.example")
    assert theirs["sighting_of_ref"] not in (got["sighting_of_ref"], guessed)


def test_a_recent_sighting_refreshes_the_score(community: Community) -> None:
    old = ind("[domain-name:value = 'evil-actor.com']", created="2024-01-01T00:00:00.000Z", confidence=90)
    old["valid_from"] = "2024-01-01T00:00:00.000Z"
    community.put("Alpha", "shared", old)
    [before] = lookup(community.conn, community.who("Bravo"), ["evil-actor.com"])[0]["values"][0]["matches"]
    assert before["score"] == 0.0
    assert before["expired"] is True
    seen = micros_to_timestamp(now_us() - 3_600_000_000)
    record_sighting(community.conn, community.who("Bravo"), collection="shared", object_id=old["id"], seen=seen)
    [after] = lookup(community.conn, community.who("Bravo"), ["evil-actor.com"])[0]["values"][0]["matches"]
    assert after["score"] > 85
    assert after["expired"] is False
    assert after["last_seen"] >= seen[:19]


def test_sighting_rules(community: Community) -> None:
    alpha, charlie = community.who("Alpha"), community.who("Charlie")
    with pytest.raises(Forbidden):
        record_sighting(community.conn, charlie, collection="shared", value="evil-actor.com")
    with pytest.raises(NotFound):
        record_sighting(
            community.conn,
            alpha,
            collection="shared",
            object_id="indicator--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12,
        )
    with pytest.raises(BadRequest):
        record_sighting(community.conn, alpha, collection="shared", value="not a value")
    with pytest.raises(BadRequest):
        record_sighting(community.conn, alpha, collection="shared", value="evil-actor.com", seen="yesterday")
    reader = community.who("Alpha", role="reader")
    with pytest.raises(Forbidden):
        record_sighting(community.conn, reader, collection="shared", value="evil-actor.com")
    raw = orjson.dumps(record_sighting(community.conn, alpha, collection="shared", value="2a0b:4340:1::1"))
    assert b"indicator--" in raw
