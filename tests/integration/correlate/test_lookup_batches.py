"""Batch lookups: shared probes, repeated inputs, and widespread values counted in the database, never listed."""

from __future__ import annotations

from typing import Any

import pytest

from accord.correlate.lookup import lookup
from accord.stix.markings import Tlp
from tests.integration.correlate.conftest import Community, ind


def _items(community: Community, who: str, values: list[str]) -> list[list[dict[str, Any]]]:
    return [result["values"] for result in lookup(community.conn, community.who(who), values)]


def _ids(item: dict[str, Any]) -> set[str]:
    return {m["id"] for m in item["matches"]}


def test_values_sharing_a_parent_each_get_its_match(community: Community) -> None:
    parent = ind("[domain-name:value = 'evil-actor.com']")
    community.put("Alpha", "shared", parent)
    [[a], [b], [c]] = _items(community, "Bravo", ["a.evil-actor.com", "b.evil-actor.com", "a.evil-actor.com"])
    assert _ids(a) == _ids(b) == _ids(c) == {parent["id"]}
    assert a["matches"][0]["match"] == "parent-domain"


def test_repeated_inputs_get_equal_but_separate_answers(community: Community) -> None:
    community.put("Alpha", "shared", ind("[domain-name:value = 'evil-actor.com']"))
    first, second = lookup(community.conn, community.who("Bravo"), ["evil-actor.com", "evil-actor.com"])
    assert first == second
    first["values"][0]["kind"] = "changed"
    assert second["values"][0]["kind"] == "domain"


def test_a_url_and_its_host_in_one_batch(community: Community) -> None:
    url = ind("[url:value = 'https://cdn.evil-actor.com/x.js']")
    host = ind("[domain-name:value = 'cdn.evil-actor.com']")
    community.put("Alpha", "shared", url, host)
    [[url_item, host_item], [domain_item]] = _items(
        community, "Bravo", ["https://cdn.evil-actor.com/x.js", "cdn.evil-actor.com"]
    )
    assert {m["id"]: m["match"] for m in url_item["matches"]} == {url["id"]: "exact"}
    assert {m["id"]: m["match"] for m in host_item["matches"]} == {url["id"]: "url-host", host["id"]: "url-host"}
    assert {m["id"]: m["match"] for m in domain_item["matches"]} == {url["id"]: "url-host", host["id"]: "exact"}


@pytest.mark.parametrize("hidden", [2, 5])  # a few times the limit (fetched, then counted) or more (counted first)
def test_many_unreadable_rows_still_list_the_readable_few(community: Community, widespread_limit, hidden: int) -> None:  # type: ignore[no-untyped-def]
    widespread_limit(2)
    readable = [ind("[domain-name:value = 'evil-actor.com']") for _ in range(2)]
    unreadable = [ind("[domain-name:value = 'evil-actor.com']", tlp=Tlp.RED) for _ in range(hidden)]
    community.put("Alpha", "shared", *readable)
    community.put("Bravo", "shared", *unreadable)
    [[alpha]] = _items(community, "Alpha", ["evil-actor.com"])
    assert _ids(alpha) == {o["id"] for o in readable}
    [[charlie]] = _items(community, "Charlie", ["evil-actor.com"])
    assert _ids(charlie) == {o["id"] for o in readable}
    [[bravo]] = _items(community, "Bravo", ["evil-actor.com"])
    assert bravo["widespread"] is True
    assert bravo["count"] == 2 + hidden


def test_widespread_counts_readable_objects_once_across_probes(community: Community, widespread_limit) -> None:  # type: ignore[no-untyped-def]
    # One object holding both the value and its parent answers two probes of one value: counted once.
    widespread_limit(1)
    both = ind("[domain-name:value = 'a.evil-actor.com'] OR [domain-name:value = 'evil-actor.com']")
    parent = ind("[domain-name:value = 'evil-actor.com']")
    community.put("Alpha", "shared", both, parent)
    [[item]] = _items(community, "Bravo", ["a.evil-actor.com"])
    assert item == {
        "kind": "domain",
        "value": "a.evil-actor.com",
        "warninglists": [],
        "widespread": True,
        "count": 2,
        "count_capped": False,
    }
    widespread_limit(2)
    [[item]] = _items(community, "Bravo", ["a.evil-actor.com"])
    assert {m["id"]: m["match"] for m in item["matches"]} == {both["id"]: "exact", parent["id"]: "parent-domain"}


def test_a_widespread_count_stops_at_the_cap_and_counts_only_readable_objects(  # type: ignore[no-untyped-def]
    community: Community, widespread_limit, count_cap
) -> None:
    widespread_limit(1)
    count_cap(3)
    green = [ind("[domain-name:value = 'evil-actor.com']") for _ in range(3)]
    red = [ind("[domain-name:value = 'evil-actor.com']", tlp=Tlp.RED) for _ in range(20)]
    community.put("Alpha", "shared", *green)
    community.put("Bravo", "shared", *red)
    # Charlie reads the three GREEN ones: an exact count, whatever the twenty RED index rows
    [[charlie]] = _items(community, "Charlie", ["evil-actor.com"])
    assert (charlie["widespread"], charlie["count"], charlie["count_capped"]) == (True, 3, False)
    # Bravo reads all 23: counting stopped one past the cap, and says so
    [[bravo]] = _items(community, "Bravo", ["evil-actor.com"])
    assert (bravo["widespread"], bravo["count"], bravo["count_capped"]) == (True, 4, True)
    assert "matches" not in bravo
    # a cap below the widespread limit still tells a widespread value from a listed one
    widespread_limit(25)
    [[listed]] = _items(community, "Bravo", ["evil-actor.com"])
    assert _ids(listed) == {o["id"] for o in green + red}


def test_a_small_limit_with_a_big_batch_matches_one_by_one(community: Community, widespread_limit) -> None:  # type: ignore[no-untyped-def]
    widespread_limit(3)
    objects = [ind(f"[ipv4-addr:value = '198.51.100.{i % 5}']") for i in range(20)]
    objects.append(ind("[ipv4-addr:value = '198.51.100.0/24']"))
    community.put("Alpha", "shared", *objects)
    values = [f"198.51.100.{i}" for i in range(6)] + ["198.51.100.0/24"]
    together = lookup(community.conn, community.who("Bravo"), values)
    alone = [lookup(community.conn, community.who("Bravo"), [v])[0] for v in values]
    assert together == alone
    [[first], *_] = _items(community, "Bravo", values)
    assert first["count"] == 5  # four indicators of the address and the /24 holding it
    [[last]] = _items(community, "Bravo", ["198.51.100.5"])
    assert _ids(last) == {objects[-1]["id"]}
