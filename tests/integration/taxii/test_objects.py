"""Checklist 12, 15-22, 25-31: filters, versions, paging headers, POST outcomes, status, jobs, DELETE."""

from __future__ import annotations

import base64
import struct
import uuid

import pytest

from accord.stix.timestamps import timestamp_to_micros
from accord.worker.runner import run_pending
from tests.builders import make_indicator, make_ipv4, ts
from tests.integration.taxii.conftest import post_envelope


def _versions(oid: str, n: int, **extra):
    return [make_indicator(oid=oid, created=ts(0), modified=ts(i), **extra) for i in range(n)]


@pytest.fixture
def stored(client, community):
    """Two indicators with three versions each, one malware-free SCO, in the shared collection."""
    a, b = f"indicator--{uuid.uuid4()}", f"indicator--{uuid.uuid4()}"
    objs = _versions(a, 3) + _versions(b, 3) + [make_ipv4("203.0.113.9")]
    r = post_envelope(client, community.auth["alice"], community.url(community.shared, "objects/"), *objs)
    assert r.json()["success_count"] == 7
    return {"a": a, "b": b, "sco": objs[-1]["id"]}


def _get(client, community, tail, who="bob", **params):
    return client.get(community.url(community.shared, tail), headers=community.auth[who], params=params)


def _keys(body):
    return [(o["id"], o.get("modified", "")) for o in body.get("objects", [])]


def test_version_filters(client, community, stored):
    a = stored["a"]
    last = _get(client, community, "objects/", **{"match[id]": a}).json()
    assert _keys(last) == [(a, ts(2))]
    first = _get(client, community, "objects/", **{"match[id]": a, "match[version]": "first"}).json()
    assert _keys(first) == [(a, ts(0))]
    both = _get(client, community, "objects/", **{"match[id]": a, "match[version]": "first,last"}).json()
    assert _keys(both) == [(a, ts(0)), (a, ts(2))]
    every = _get(client, community, "objects/", **{"match[id]": a, "match[version]": "all"}).json()
    assert len(every["objects"]) == 3
    exact = _get(client, community, "objects/", **{"match[id]": a, "match[version]": "2026-01-01T00:00:01Z"}).json()
    assert _keys(exact) == [(a, ts(1))]
    sco = _get(client, community, "objects/", **{"match[id]": stored["sco"], "match[version]": "first"}).json()
    assert len(sco["objects"]) == 1


def test_id_and_type_filters_or_within_and_across(client, community, stored):
    ids = f"{stored['a']},{stored['b']}"
    body = _get(client, community, "objects/", **{"match[id]": ids}).json()
    assert {o["id"] for o in body["objects"]} == {stored["a"], stored["b"]}
    body = _get(client, community, "objects/", **{"match[type]": "indicator,ipv4-addr"}).json()
    assert len(body["objects"]) == 3
    body = _get(client, community, "objects/", **{"match[type]": "ipv4-addr", "match[id]": ids}).json()
    assert body == {}
    body = _get(client, community, "objects/", **{"match[spec_version]": "2.1"}).json()
    assert len(body["objects"]) == 3
    assert _get(client, community, "objects/", **{"match[spec_version]": "2.0"}).json() == {}


@pytest.mark.parametrize(
    "params",
    [
        {"added_after": "yesterday"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "x"},
        {"match[version]": "newest"},
        {"match[type]": ""},
        {"match[spec_version]": "two"},
        {"match[colour]": "red"},
        {"next": "garbage!"},
    ],
)
def test_bad_parameters_400(client, community, stored, params):
    for tail in ("objects/", "manifest/"):
        r = _get(client, community, tail, **params)
        assert r.status_code == 400, (tail, params, r.text)
        assert r.json()["http_status"] == "400"


def test_repeated_parameter_400(client, community, stored):
    url = community.url(community.shared, "objects/") + "?limit=1&limit=2"
    assert client.get(url, headers=community.auth["bob"]).status_code == 400


def test_added_after_is_strict_and_ordering_oldest_first(client, community, stored):
    body = _get(client, community, "manifest/", **{"match[version]": "all"}).json()
    dates = [e["date_added"] for e in body["objects"]]
    assert dates == sorted(dates)
    assert len(set(dates)) == 7
    for e in body["objects"]:
        assert set(e) == {"id", "date_added", "version", "media_type"}
    after = _get(client, community, "manifest/", **{"match[version]": "all", "added_after": dates[2]}).json()
    assert [e["date_added"] for e in after["objects"]] == dates[3:]


def test_limit_more_next_and_date_headers(client, community, stored):
    r = _get(client, community, "objects/", limit="2")
    body = r.json()
    assert len(body["objects"]) == 2
    assert body["more"] is True
    assert body["next"]
    assert r.headers["x-taxii-date-added-first"] <= r.headers["x-taxii-date-added-last"]
    r2 = _get(client, community, "objects/", limit="2", next=body["next"])
    assert r2.json()["more"] is False
    assert len(r2.json()["objects"]) == 1
    assert r2.headers["x-taxii-date-added-first"] > r.headers["x-taxii-date-added-last"]
    # the token is bound to the query, the collection and the caller
    assert _get(client, community, "objects/", limit="2", next=body["next"], **{"match[type]": "x"}).status_code == 400
    assert _get(client, community, "manifest/", limit="2", next=body["next"]).status_code == 400
    assert _get(client, community, "objects/", who="alice", next=body["next"]).status_code == 400
    forged = body["next"][:-2] + ("AA" if body["next"][-2:] != "AA" else "BB")
    assert _get(client, community, "objects/", next=forged).status_code == 400
    # The token resumes after the page's last date_added, which it does not show (W3: gaps would reveal versions).
    last = timestamp_to_micros(r.headers["x-taxii-date-added-last"])
    raw = base64.urlsafe_b64decode(body["next"] + "=" * (-len(body["next"]) % 4))
    assert str(last) not in body["next"]
    assert struct.pack(">q", last) not in raw


def test_server_caps_limit(client, community, stored, monkeypatch):
    from accord.core import settings

    monkeypatch.setenv("ACCORD_TAXII_PAGE_LIMIT", "2")
    settings.get_settings.cache_clear()
    body = _get(client, community, "objects/", limit="50").json()
    assert len(body["objects"]) == 2
    assert body["more"] is True


def test_object_by_id_versions_and_headers(client, community, stored):
    a = stored["a"]
    r = _get(client, community, f"objects/{a}/")
    assert r.status_code == 200
    assert _keys(r.json()) == [(a, ts(2))]
    assert "x-taxii-date-added-first" in r.headers
    r = _get(client, community, f"objects/{a}/", **{"match[version]": "all"}, limit="2")
    assert len(r.json()["objects"]) == 2
    assert r.json()["more"] is True
    r = _get(client, community, f"objects/{a}/versions/")
    assert r.status_code == 200
    assert r.json() == {"more": False, "versions": [ts(i).replace(".000Z", ".000000Z") for i in range(3)]}
    assert r.headers["x-taxii-date-added-last"]
    assert _get(client, community, f"objects/indicator--{uuid.uuid4()}/").status_code == 404
    assert _get(client, community, f"objects/indicator--{uuid.uuid4()}/versions/").status_code == 404


def test_post_outcomes_duplicates_and_failures(client, community):
    url = community.url(community.shared, "objects/")
    good = make_indicator()
    bad = {**make_indicator(), "pattern": "[not a pattern"}
    first = post_envelope(client, community.auth["alice"], url, good, bad).json()
    assert first["status"] == "complete"
    assert first["success_count"] == 1
    assert first["failure_count"] == 1
    assert first["failures"][0]["id"] == bad["id"]
    assert first["failures"][0]["version"] == bad["modified"].replace(".000Z", ".000000Z")  # refused while validated
    assert first["failures"][0]["message"]
    again = post_envelope(client, community.auth["alice"], url, good).json()
    assert again["success_count"] == 1
    assert again["successes"] == [{"id": good["id"], "version": good["modified"].replace(".000Z", ".000000Z")}]
    assert "failures" not in again
    assert "pendings" not in again
    uuid.UUID(again["id"])
    status = client.get(f"/taxii2/api/status/{again['id']}/", headers=community.auth["alice"])
    assert status.status_code == 200
    assert status.json()["id"] == again["id"]
    # statuses are private to the posting organisation (admins aside)
    assert client.get(f"/taxii2/api/status/{again['id']}/", headers=community.auth["bob"]).status_code == 404
    assert client.get(f"/taxii2/api/status/{again['id']}/", headers=community.auth["root"]).status_code == 200
    # W2: Bob may not version Alice's object
    newer = {**good, "modified": "2027-01-01T00:00:00.000Z"}
    refused = post_envelope(client, community.auth["bob"], url, newer).json()
    assert refused["failure_count"] == 1
    assert refused["failures"][0]["version"] == "2027-01-01T00:00:00.000000Z"  # refused by the store
    # An object without modified is versioned by its created; one with neither has no version to report.
    created_only = {k: v for k, v in make_indicator(pattern="[bad").items() if k != "modified"}
    no_dates = {"type": "indicator", "id": f"indicator--{uuid.uuid4()}"}
    mixed = post_envelope(client, community.auth["alice"], url, created_only, no_dates).json()
    assert [f.get("version") for f in mixed["failures"]] == [created_only["created"].replace(".000Z", ".000000Z"), None]


def test_large_envelope_is_queued_then_completed_by_the_worker(client, community, engine, monkeypatch):
    from accord.core import settings

    monkeypatch.setenv("ACCORD_TAXII_INLINE_MAX_OBJECTS", "2")
    settings.get_settings.cache_clear()
    url = community.url(community.shared, "objects/")
    objs = [make_indicator() for _ in range(3)] + [{"type": "indicator", "id": "indicator--bad"}]
    status = post_envelope(client, community.auth["alice"], url, *objs).json()
    assert status["status"] == "pending"
    assert status["pending_count"] == 4
    assert len(status["pendings"]) == 4
    assert client.get(url, headers=community.auth["alice"]).json() == {}
    assert run_pending(engine, 10) == 1
    done = client.get(f"/taxii2/api/status/{status['id']}/", headers=community.auth["alice"]).json()
    assert done["status"] == "complete"
    assert (done["success_count"], done["failure_count"], done["pending_count"]) == (3, 1, 0)
    assert [f["id"] for f in done["failures"]] == ["indicator--bad"]
    assert "version" not in done["failures"][0]  # it has neither modified nor created
    assert "pendings" not in done
    assert len(client.get(url, headers=community.auth["alice"]).json()["objects"]) == 3
    assert run_pending(engine, 10) == 0


def test_delete_object(client, community, stored, engine):
    a = stored["a"]
    # others: 404 when unreadable, 403 when readable but not the owner
    assert (
        client.delete(community.url(community.shared, f"objects/{a}/"), headers=community.auth["bob"]).status_code
        == 403
    )
    unknown = community.url(community.shared, f"objects/indicator--{uuid.uuid4()}/")
    assert client.delete(unknown, headers=community.auth["alice"]).status_code == 404
    first_only = community.url(community.shared, f"objects/{a}/") + "?match[version]=first"
    assert client.delete(first_only, headers=community.auth["alice"]).status_code == 200
    versions = _get(client, community, f"objects/{a}/versions/").json()["versions"]
    assert len(versions) == 2
    r = client.delete(community.url(community.shared, f"objects/{a}/"), headers=community.auth["alice"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/taxii+json;version=2.1"
    assert _get(client, community, f"objects/{a}/").status_code == 404
    assert _get(client, community, f"objects/{a}/versions/").status_code == 404
    assert a not in {e["id"] for e in _get(client, community, "manifest/").json()["objects"]}
    assert a not in {o["id"] for o in _get(client, community, "objects/").json()["objects"]}
    # admins may delete any object; the delete is audited
    b = community.url(community.shared, f"objects/{stored['b']}/")
    assert client.delete(b, headers=community.auth["root"]).status_code == 200
    from sqlalchemy import select

    from accord.models.audit import audit_log

    with engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action, audit_log.c.target)))
    assert ("taxii.delete_object", a) in [tuple(x) for x in actions]


def test_post_flags_warninglisted_values_in_the_status(client, community):
    url = community.url(community.shared, "objects/")
    resolver = make_indicator(value="8.8.8.8")
    plain = make_indicator(value="91.92.109.2")
    status = post_envelope(client, community.auth["alice"], url, resolver, plain).json()
    assert status["success_count"] == 2
    messages = {s["id"]: s.get("message") for s in status["successes"]}
    assert messages[resolver["id"]].startswith("on warninglists: 8.8.8.8 (List of known IPv4 public DNS resolvers")
    assert messages[plain["id"]] is None
    # The stored status says the same when read back.
    again = client.get(f"/taxii2/api/status/{status['id']}/", headers=community.auth["alice"])
    assert again.status_code == 200
    assert {s["id"]: s.get("message") for s in again.json()["successes"]} == messages
