"""GET /api/v1/exports/{format}: authentication, validators (304), precise 4xx answers."""

from __future__ import annotations

import pytest

from tests.integration.exports.secrets import plant


def test_bearer_and_token_schemes_are_accepted_and_anonymous_is_401(demo):
    c = demo.client
    assert c.get("/api/v1/exports/blocklist?type=md5").status_code == 401
    bearer = c.get("/api/v1/exports/blocklist?type=md5", headers=demo.auth("bob"))
    token = c.get("/api/v1/exports/blocklist?type=md5", headers=demo.auth("bob", "Token"))
    assert bearer.status_code == token.status_code == 200
    assert bearer.content == token.content
    assert bearer.content
    assert bearer.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query", ["blocklist?type=domain", "csv", "misp", "suricata", "rpz", "stix", "misp?group=day&collection=shared"]
)
def test_if_none_match_and_if_modified_since_answer_304_until_something_changes(demo, query):
    c = demo.client
    first = c.get(f"/api/v1/exports/{query}", headers=demo.auth("bob"))
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = c.get(f"/api/v1/exports/{query}", headers={**demo.auth("bob"), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    since = c.get(f"/api/v1/exports/{query}", headers={**demo.auth("bob"), "If-Modified-Since": modified})
    assert since.status_code == 304
    # Another caller's answer differs: its validator does too.
    other = c.get(f"/api/v1/exports/{query}", headers={**demo.auth("alice"), "If-None-Match": etag})
    assert other.status_code == 200
    plant()  # Alpha stores new objects: the node clock moves, every validator changes
    changed = c.get(f"/api/v1/exports/{query}", headers={**demo.auth("bob"), "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_a_stale_if_modified_since_gets_the_export(demo):
    r = demo.client.get(
        "/api/v1/exports/csv", headers={**demo.auth("bob"), "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT"}
    )
    assert r.status_code == 200
    assert r.text.startswith("value,type")


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("nope", 400, "unknown export format 'nope'"),
        ("blocklist", 400, "a blocklist holds one kind of value"),
        ("blocklist?type=ip,domain", 400, "a blocklist holds one kind of value"),
        ("csv?type=bogus", 400, "unknown value kind 'bogus'"),
        ("csv?columns=value,secret", 400, "unknown CSV column 'secret'"),
        ("csv?since=yesterday", 400, "is not a STIX timestamp or a date"),
        ("csv?min_score=101", 400, "min_score must be between 0 and 100"),
        ("csv?warninglists=report", 400, "choose omit or mark"),
        ("misp?group=week", 400, "choose report or day"),
        ("csv?report=report--0c3f3d1e-7f55-4c1b-9e57-5d1f1f1a0001", 400, "only the stix and misp formats"),
        ("csv?min_score=abc", 422, "min_score"),
    ],
)
def test_bad_requests_get_a_precise_problem(demo, query, status, detail):
    r = demo.client.get(f"/api/v1/exports/{query}", headers=demo.auth("bob"))
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert detail in r.json()["detail"]


def test_unreadable_collections_and_reports_are_404_exactly_like_missing_ones(demo):
    report = plant()  # a GREEN report Bob may read; Alpha's internal collection he may not
    c = demo.client
    hidden = c.get("/api/v1/exports/csv?collection=alpha-internal", headers=demo.auth("bob"))
    missing = c.get("/api/v1/exports/csv?collection=no-such", headers=demo.auth("bob"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("alpha-internal", "X") == missing.json()["detail"].replace("no-such", "X")
    assert c.get("/api/v1/exports/csv?collection=alpha-internal", headers=demo.auth("alice")).status_code == 200
    feed = c.get("/api/v1/exports/misp-feed/alpha-internal/manifest.json", headers=demo.auth("bob"))
    assert feed.status_code == 404
    gone = "report--0c3f3d1e-7f55-4c1b-9e57-5d1f1f1a0999"
    assert c.get(f"/api/v1/exports/stix?report={gone}", headers=demo.auth("bob")).status_code == 404
    assert c.get(f"/api/v1/exports/misp?report={gone}", headers=demo.auth("bob")).status_code == 404
    assert c.get(f"/api/v1/exports/stix?report={report['id']}", headers=demo.auth("bob")).status_code == 200
    event = c.get(
        "/api/v1/exports/misp-feed/shared/00000000-0000-4000-8000-000000000000.json", headers=demo.auth("bob")
    )
    assert event.status_code == 404


def test_the_misp_feed_hashes_name_every_attribute_of_its_events(demo):
    import hashlib

    c = demo.client
    manifest = c.get("/api/v1/exports/misp-feed/shared/manifest.json", headers=demo.auth("bob")).json()
    expected = set()
    for event_uuid in manifest:
        event = c.get(f"/api/v1/exports/misp-feed/shared/{event_uuid}.json", headers=demo.auth("bob")).json()
        assert event["Event"]["uuid"] == event_uuid
        assert event["Event"]["timestamp"] == manifest[event_uuid]["timestamp"]
        expected |= {(hashlib.md5(a["value"].encode()).hexdigest(), event_uuid) for a in event["Event"]["Attribute"]}
    hashes = c.get("/api/v1/exports/misp-feed/shared/hashes.csv", headers=demo.auth("bob"))
    assert hashes.status_code == 200
    got = {tuple(line.split(",")) for line in hashes.text.splitlines()}
    assert got == expected
    assert len(got) > 100
