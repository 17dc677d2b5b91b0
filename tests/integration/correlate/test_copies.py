"""Lookups and correlations over copies: one object per id (the reader's own copy first), the holders a reader
may know of, and nothing about a copy it may not read (no owner, no first seen)."""

from __future__ import annotations

from typing import Any

from accord.correlate.lookup import lookup
from accord.correlate.service import object_correlations
from accord.stix.ids import deterministic_sco_id
from accord.stix.markings import Tlp
from tests.builders import TLP_IDS, make_collection
from tests.integration.correlate.conftest import Community, ind


def _domain(value: str, tlp: Tlp) -> dict[str, Any]:
    obj = {"type": "domain-name", "spec_version": "2.1", "value": value, "object_marking_refs": [TLP_IDS[tlp]]}
    return obj | {"id": deterministic_sco_id(obj)}


def _matches(community: Community, who: str, value: str) -> list[dict[str, Any]]:
    [item] = lookup(community.conn, community.who(who), [value])[0]["values"]
    return item["matches"]


def test_a_guessed_copy_shows_the_guessers_own_owner_and_dates(community: Community) -> None:
    # Alpha holds a GREEN domain where Bravo cannot read it; Bravo posts the identical body into its own
    # collection: Bravo now reads its own copy, never "owner: Alpha" or Alpha's first seen.
    alpha_only = make_collection(community.conn, "alpha-only", readers=["Alpha"], writers=["Alpha"])
    bravo_own = make_collection(community.conn, "bravo-own", readers=["Bravo"], writers=["Bravo"])
    community.collections |= {"alpha-only": alpha_only.id, "bravo-own": bravo_own.id}
    green = _domain("quiet-c2.example", Tlp.GREEN)
    community.put("Alpha", "alpha-only", green)
    [alpha_view] = _matches(community, "Alpha", "quiet-c2.example")
    community.put("Bravo", "bravo-own", dict(green))
    [bravo_view] = _matches(community, "Bravo", "quiet-c2.example")
    assert (bravo_view["id"], bravo_view["owner"], bravo_view["held_by"]) == (green["id"], "Bravo", ["Bravo"])
    assert bravo_view["first_seen"] > alpha_view["first_seen"]
    # Charlie reads neither collection: nothing
    assert _matches(community, "Charlie", "quiet-c2.example") == []
    # Alpha still sees its own copy, and cannot read Bravo's either
    [again] = _matches(community, "Alpha", "quiet-c2.example")
    assert (again["owner"], again["held_by"], again["first_seen"]) == ("Alpha", ["Alpha"], alpha_view["first_seen"])


def test_a_value_held_by_two_orgs_correlates_across_them_for_readers_of_both(community: Community) -> None:
    community.put("Alpha", "shared", _domain("both-hold.example", Tlp.GREEN))
    community.put("Bravo", "shared", _domain("both-hold.example", Tlp.CLEAR))
    community.put("Bravo", "shared", ind("[domain-name:value = 'both-hold.example']"))
    for who, owner in (("Alpha", "Alpha"), ("Bravo", "Bravo"), ("Charlie", "Bravo")):
        matches = _matches(community, who, "both-hold.example")
        scos = [m for m in matches if m["type"] == "domain-name"]
        assert len(scos) == 1  # one object per id
        assert scos[0]["owner"] == owner  # the reader's own copy, else the newest
        assert scos[0]["held_by"] == ["Alpha", "Bravo"]  # first holder first
        assert {m["type"] for m in matches} == {"domain-name", "indicator"}
    sco_id = _domain("both-hold.example", Tlp.GREEN)["id"]
    got = object_correlations(community.conn, community.who("Alpha"), sco_id)
    assert got["held_by"] == ["Alpha", "Bravo"]
    assert [c["type"] for c in got["correlations"]] == ["indicator"]


def test_holders_name_only_copies_the_reader_may_read(community: Community) -> None:
    community.put("Alpha", "shared", _domain("half-known.example", Tlp.GREEN))
    community.put("Bravo", "pair", _domain("half-known.example", Tlp.RED))
    [charlie] = _matches(community, "Charlie", "half-known.example")
    assert (charlie["owner"], charlie["held_by"]) == ("Alpha", ["Alpha"])
    sco_id = _domain("half-known.example", Tlp.GREEN)["id"]
    assert object_correlations(community.conn, community.who("Charlie"), sco_id)["held_by"] == ["Alpha"]
    [bravo] = _matches(community, "Bravo", "half-known.example")
    assert (bravo["owner"], bravo["held_by"]) == ("Bravo", ["Alpha", "Bravo"])
