"""W3 over TAXII, as a user of another organisation would probe it: posting an SCO (or an indicator id) that
another organisation holds unreadably answers exactly like posting one nobody holds, and reads back as the
poster's own."""

from __future__ import annotations

from typing import Any

from accord.stix.ids import deterministic_sco_id
from accord.stix.markings import Tlp
from accord.stix.timestamps import timestamp_to_micros
from tests.builders import TLP_IDS, make_indicator
from tests.integration.taxii.conftest import post_envelope

RED = TLP_IDS[Tlp.RED]


def _ip(value: str, *marks: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "ipv4-addr", "spec_version": "2.1", "value": value}
    obj["id"] = deterministic_sco_id(obj)
    if marks:
        obj["object_marking_refs"] = list(marks)
    return obj


def _told(status: dict[str, Any]) -> dict[str, Any]:
    """A status resource without what differs between two requests (its id and dates)."""
    out = {k: v for k, v in status.items() if k not in ("id", "request_timestamp")}
    if "successes" in out:
        out["successes"] = [{k: v for k, v in e.items() if k != "version"} for e in out["successes"]]
    return out


def test_an_sco_held_unreadably_answers_like_one_nobody_holds(client, community):
    alpha_url = community.url(community.alpha_only, "objects/")
    drop_url = community.url(community.drop, "objects/")  # Beta writes here but cannot read
    shared_url = community.url(community.shared, "objects/")
    assert post_envelope(client, community.auth["alice"], alpha_url, _ip("45.137.21.9", RED)).json()["success_count"]
    held = post_envelope(client, community.auth["bob"], shared_url, _ip("45.137.21.9")).json()
    free = post_envelope(client, community.auth["bob"], shared_url, _ip("45.137.21.99")).json()
    assert _told(held) == _told(free) | {
        "successes": [{"id": _ip("45.137.21.9")["id"]}],
    }
    assert held["success_count"] == 1
    assert "failures" not in held
    # the version (date_added) is Bob's own, not older than his request
    [entry] = held["successes"]
    assert timestamp_to_micros(entry["version"]) >= timestamp_to_micros(held["request_timestamp"])
    # Bob reads back what he posted (his copy); Alice still reads hers
    got = client.get(community.url(community.shared, f"objects/{entry['id']}/"), headers=community.auth["bob"])
    assert got.status_code == 200
    assert got.json()["objects"] == [_ip("45.137.21.9")]
    versions = client.get(
        community.url(community.shared, f"objects/{entry['id']}/versions/"), headers=community.auth["bob"]
    )
    assert versions.json()["versions"] == [entry["version"]]
    mine = client.get(community.url(community.alpha_only, f"objects/{entry['id']}/"), headers=community.auth["alice"])
    assert mine.json()["objects"] == [_ip("45.137.21.9", RED)]
    # identical bodies: Bob's duplicate carries Bob's date, never Alice's
    again = post_envelope(client, community.auth["bob"], drop_url, _ip("45.137.21.9")).json()
    [dup] = again["successes"]
    assert timestamp_to_micros(dup["version"]) > timestamp_to_micros(entry["version"])  # its date in 'drop'


def test_every_success_of_a_large_envelope_has_its_version(client, community):
    url = community.url(community.shared, "objects/")
    objects = [_ip(f"10.{i // 250}.{i % 250}.1") for i in range(1200)] + [make_indicator() for _ in range(5)]
    status = post_envelope(client, community.auth["alice"], url, *objects).json()
    assert status["success_count"] == 1205
    assert all(entry.get("version") for entry in status["successes"])
    listed = client.get(community.url(community.shared, "manifest/"), headers=community.auth["alice"]).json()
    shown = {e["id"]: e["version"] for e in listed["objects"]}
    told = {e["id"]: e["version"] for e in status["successes"]}
    assert len(shown) >= 1000  # the first page of the manifest: every version there is the one the status told
    assert {i: told[i] for i in shown} == shown


def test_delete_removes_only_the_callers_own_copy(client, community):
    url = community.url(community.shared, "objects/")
    ip = _ip("198.51.100.200", TLP_IDS[Tlp.GREEN])
    post_envelope(client, community.auth["alice"], url, ip)
    post_envelope(client, community.auth["bob"], url, _ip("198.51.100.200"))
    one = community.url(community.shared, f"objects/{ip['id']}/")
    assert client.delete(one, headers=community.auth["bob"]).status_code == 200
    # Alice's copy stays in the collection, and Bob now reads hers
    got = client.get(one, headers=community.auth["bob"]).json()["objects"]
    assert got == [ip]
    assert client.delete(one, headers=community.auth["bob"]).status_code == 403
