"""Correlations and lookups reveal only what the caller may read: no object, owner, count or date beyond it."""

from __future__ import annotations

import pytest

from accord.core.errors import NotFound
from accord.correlate.lookup import lookup
from accord.correlate.service import object_correlations
from accord.sightings.service import record_sighting
from accord.stix.markings import Tlp
from tests.integration.correlate.conftest import Community, ind

VALUE = "evil-actor.com"


def _ids(community: Community, who: str, value: str = VALUE) -> set[str]:
    [item] = lookup(community.conn, community.who(who), [value])[0]["values"]
    return {m["id"] for m in item.get("matches", [])}


@pytest.mark.parametrize("tlp", [Tlp.RED, Tlp.AMBER_STRICT])
def test_red_and_amber_strict_of_another_org_stay_hidden(community: Community, tlp: Tlp) -> None:
    mine = ind(f"[domain-name:value = '{VALUE}']")
    secret = ind(f"[domain-name:value = 'www.{VALUE}']", tlp=tlp)
    community.put("Alpha", "shared", mine)
    community.put("Bravo", "shared", secret)
    assert _ids(community, "Bravo") == {mine["id"], secret["id"]}  # R1: the owner sees its own
    assert _ids(community, "Alpha") == {mine["id"]}
    assert object_correlations(community.conn, community.who("Alpha"), mine["id"])["correlations"] == []
    with pytest.raises(NotFound):
        object_correlations(community.conn, community.who("Alpha"), secret["id"])
    admin = community.who("Alpha", role="admin")
    assert {c["id"] for c in object_correlations(community.conn, admin, mine["id"])["correlations"]} == {secret["id"]}


def test_amber_never_travels_a_second_hop(community: Community) -> None:
    amber = ind(f"[domain-name:value = '{VALUE}']", tlp=Tlp.AMBER)
    community.put("Bravo", "pair", amber)  # Bravo shares with Alpha directly
    community.put("Alpha", "shared", amber)  # Alpha re-publishes it to Charlie's collection
    green = ind(f"[domain-name:value = '{VALUE}']")
    community.put("Charlie", None, green)
    assert _ids(community, "Alpha") == {amber["id"]}
    assert _ids(community, "Charlie") == {green["id"]}
    assert object_correlations(community.conn, community.who("Charlie"), green["id"])["correlations"] == []


def test_widespread_counts_only_readable_objects(community: Community, widespread_limit) -> None:  # type: ignore[no-untyped-def]
    widespread_limit(2)
    readable = [ind(f"[domain-name:value = '{VALUE}']") for _ in range(2)]
    hidden = [ind(f"[domain-name:value = '{VALUE}']", tlp=Tlp.RED) for _ in range(5)]
    community.put("Alpha", "shared", *readable)
    community.put("Bravo", "shared", *hidden)
    # Alpha reads two: listed, not "widespread" -- five unreadable objects change nothing it sees
    assert _ids(community, "Alpha") == {o["id"] for o in readable}
    result = object_correlations(community.conn, community.who("Alpha"), readable[0]["id"])
    assert result["widespread"] == []
    assert [c["id"] for c in result["correlations"]] == [readable[1]["id"]]
    [item] = lookup(community.conn, community.who("Bravo"), [VALUE])[0]["values"]
    assert item == {
        "kind": "domain",
        "value": VALUE,
        "warninglists": [],
        "widespread": True,
        "count": 7,
        "count_capped": False,
    }


def test_unreadable_sightings_and_reports_are_not_counted(community: Community) -> None:
    indicator = ind(f"[domain-name:value = '{VALUE}']")
    community.put("Alpha", "shared", indicator)
    bravo, charlie = community.who("Bravo"), community.who("Charlie")
    record_sighting(community.conn, bravo, collection="shared", object_id=indicator["id"], tlp="red")
    record_sighting(community.conn, bravo, collection="shared", object_id=indicator["id"], tlp="green", count=3)
    record_sighting(community.conn, bravo, collection="pair", object_id=indicator["id"], tlp="green")
    seen = {who: lookup(community.conn, community.who(who), [VALUE])[0]["values"][0]["matches"] for who in
            ("Alpha", "Bravo", "Charlie")}  # fmt: skip
    assert seen["Bravo"][0]["sightings"] == 3
    assert seen["Alpha"][0]["sightings"] == 2  # the RED one is Bravo's alone
    assert seen["Charlie"][0]["sightings"] == 1  # and the pair collection is not Charlie's
    del charlie


def test_last_seen_comes_only_from_readable_versions(community: Community) -> None:
    v1 = ind(f"[domain-name:value = '{VALUE}']", created="2026-01-01T00:00:00.000Z")
    community.put("Alpha", "shared", v1)
    v2 = dict(v1, modified="2026-01-02T00:00:00.000Z", object_marking_refs=ind("[x:y = 'z']", tlp=Tlp.RED)[
        "object_marking_refs"])  # fmt: skip
    community.put("Alpha", "shared", v2)
    [alpha] = lookup(community.conn, community.who("Alpha"), [VALUE])[0]["values"][0]["matches"]
    [bravo] = lookup(community.conn, community.who("Bravo"), [VALUE])[0]["values"][0]["matches"]
    assert alpha["first_seen"] == bravo["first_seen"]
    assert bravo["last_seen"] == bravo["first_seen"] < alpha["last_seen"]
