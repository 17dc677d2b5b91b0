"""Every value kind and match kind, through ingest, the value index, correlations and lookups."""

from __future__ import annotations

from typing import Any

from accord.correlate.lookup import lookup
from accord.correlate.service import object_correlations, report_correlations
from tests.integration.correlate.conftest import Community, ind


def _pairs(result: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["value"], c["id"], c["match"]) for c in result["correlations"]}


def _correlated(community: Community, oid: str, who: str = "Alpha") -> dict[str, str]:
    result = object_correlations(community.conn, community.who(who), oid)
    return {c["id"]: c["match"] for c in result["correlations"]}


def test_exact_ip_between_indicator_and_sco(community: Community) -> None:
    a = ind("[ipv4-addr:value = '45.137.21.9']")
    b = ind("[ipv4-addr:value = '45.137.21.9'] AND [file:name = 'x.exe']")
    c = ind("[ipv4-addr:value = '45.137.21.10']")
    community.put("Alpha", "shared", a, b, c)
    assert _correlated(community, a["id"]) == {b["id"]: "exact"}


def test_cidr_contains_address_both_directions(community: Community) -> None:
    net = ind("[ipv4-addr:value = '91.214.124.0/24']")
    host = ind("[ipv4-addr:value = '91.214.124.7']")
    outside = ind("[ipv4-addr:value = '91.214.125.7']")
    community.put("Bravo", "shared", net, host, outside)
    assert _correlated(community, host["id"]) == {net["id"]: "cidr"}
    assert _correlated(community, net["id"]) == {host["id"]: "cidr"}


def test_overlapping_cidrs_both_directions(community: Community) -> None:
    wide = ind("[ipv4-addr:value = '91.214.0.0/16']")
    narrow = ind("[ipv4-addr:value = '91.214.124.0/24']")
    other = ind("[ipv4-addr:value = '91.215.0.0/16']")
    community.put("Alpha", "shared", wide, narrow, other)
    assert _correlated(community, narrow["id"]) == {wide["id"]: "cidr"}
    assert _correlated(community, wide["id"]) == {narrow["id"]: "cidr"}


def test_ipv6_address_inside_ipv6_cidr(community: Community) -> None:
    net = ind("[ipv6-addr:value = '2a0b:4340:1::/48']")
    host = ind("[ipv6-addr:value = '2A0B:4340:0001:0000::0001']")
    community.put("Alpha", "shared", net, host)
    assert _correlated(community, host["id"]) == {net["id"]: "cidr"}
    [item] = lookup(community.conn, community.who("Alpha"), ["2a0b:4340:1::1"])[0]["values"]
    assert {m["id"]: m["match"] for m in item["matches"]} == {host["id"]: "exact", net["id"]: "cidr"}


def test_parent_domain_both_directions(community: Community) -> None:
    parent = ind("[domain-name:value = 'evil-actor.com']")
    child = ind("[domain-name:value = 'cdn.a.evil-actor.com']")
    unrelated = ind("[domain-name:value = 'evil-actor.net']")
    community.put("Alpha", "shared", parent, child, unrelated)
    assert _correlated(community, child["id"]) == {parent["id"]: "parent-domain"}
    assert _correlated(community, parent["id"]) == {child["id"]: "parent-domain"}


def test_public_suffixes_never_correlate(community: Community) -> None:
    one = ind("[domain-name:value = 'shop-one.co.uk']")
    two = ind("[domain-name:value = 'shop-two.co.uk']")
    suffix = ind("[domain-name:value = 'co.uk']")
    suffix_too = ind("[domain-name:value = 'co.uk']")
    tenant = ind("[domain-name:value = 'alice.github.io']")
    tenant_too = ind("[domain-name:value = 'bob.github.io']")
    community.put("Alpha", "shared", one, two, suffix, suffix_too, tenant, tenant_too)
    for obj in (one, two, suffix, suffix_too, tenant, tenant_too):
        assert _correlated(community, obj["id"]) == {}
    [item] = lookup(community.conn, community.who("Alpha"), ["x.co.uk"])[0]["values"]
    assert item["matches"] == []


def test_idn_domains_match_their_punycode(community: Community) -> None:
    unicode_form = ind("[domain-name:value = 'bücher-böse.example']")
    community.put("Alpha", "shared", unicode_form)
    [item] = lookup(community.conn, community.who("Alpha"), ["xn--bcher-bse-67a3d.example"])[0]["values"]
    assert item["value"] == "xn--bcher-bse-67a3d.example"
    assert [m["id"] for m in item["matches"]] == [unicode_form["id"]]
    [item] = lookup(community.conn, community.who("Alpha"), ["BÜCHER-böse.example"])[0]["values"]
    assert [m["id"] for m in item["matches"]] == [unicode_form["id"]]


def test_url_host_matches_domain_and_address(community: Community) -> None:
    url = ind("[url:value = 'https://login.evil-actor.com/session?id=1']")
    domain = ind("[domain-name:value = 'login.evil-actor.com']")
    ip_url = ind("[url:value = 'http://45.137.21.9:8080/gate.php']")
    ip = ind("[ipv4-addr:value = '45.137.21.9']")
    community.put("Alpha", "shared", url, domain, ip_url, ip)
    assert _correlated(community, url["id"]) == {domain["id"]: "url-host"}
    assert _correlated(community, domain["id"]) == {url["id"]: "url-host"}
    assert _correlated(community, ip["id"]) == {ip_url["id"]: "url-host"}


def test_defanged_lookup_and_normalised_forms(community: Community) -> None:
    url = ind("[url:value = 'http://evil-actor.com/drop']")
    community.put("Bravo", "shared", url)
    [result] = lookup(community.conn, community.who("Alpha"), ["hxxp://evil-actor[.]com/drop"])
    kinds = {item["kind"]: item for item in result["values"]}
    assert kinds["url"]["value"] == "http://evil-actor.com/drop"
    assert [m["match"] for m in kinds["url"]["matches"]] == ["exact"]
    assert [m["match"] for m in kinds["domain"]["matches"]] == ["url-host"]
    assert kinds["url"]["matches"][0]["owner"] == "Bravo"


def test_hashes_emails_and_unknown_input(community: Community) -> None:
    digest = "a" * 64
    files = ind(f"[file:hashes.'SHA-256' = '{digest.upper()}']")
    mail = ind("[email-addr:value = 'Boss@Evil-Actor.com']")
    community.put("Alpha", "shared", files, mail)
    results = lookup(community.conn, community.who("Alpha"), [digest, "boss@evil-actor.com", "not a value"])
    assert [m["id"] for m in results[0]["values"][0]["matches"]] == [files["id"]]
    assert results[0]["values"][0]["kind"] == "hash:sha256"
    assert results[1]["values"][0]["value"] == "boss@evil-actor.com"
    assert results[2]["values"] == []


def test_widespread_values_are_counted_not_listed(community: Community, widespread_limit) -> None:  # type: ignore[no-untyped-def]
    widespread_limit(2)
    many = [ind("[domain-name:value = 'popular-bad.com']") for _ in range(4)]
    community.put("Alpha", "shared", *many)
    result = object_correlations(community.conn, community.who("Alpha"), many[0]["id"])
    assert result["correlations"] == []
    assert result["widespread"] == [
        {"kind": "domain", "value": "popular-bad.com", "widespread": True, "count": 3, "count_capped": False}
    ]
    [item] = lookup(community.conn, community.who("Alpha"), ["popular-bad.com"])[0]["values"]
    assert item["widespread"] is True
    assert item["count"] == 4
    assert "matches" not in item


def test_warninglisted_values_never_correlate(community: Community) -> None:
    a = ind("[ipv4-addr:value = '8.8.8.8']")
    b = ind("[ipv4-addr:value = '8.8.8.8']")
    c = ind("[ipv4-addr:value = '8.8.8.0/24']")
    community.put("Alpha", "shared", a, b, c)
    result = object_correlations(community.conn, community.who("Alpha"), a["id"])
    assert result["correlations"] == []
    assert result["warninglisted"][0]["value"] == "8.8.8.8"
    assert result["warninglisted"][0]["warninglists"]
    [item] = lookup(community.conn, community.who("Alpha"), ["8.8.8.8"])[0]["values"]
    assert "List of known IPv4 public DNS resolvers" in item["warninglists"]


def test_active_warninglists_are_configurable(community: Community, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from accord.core import settings as core_settings

    monkeypatch.setenv("ACCORD_WARNINGLISTS", "List of RFC 1918 CIDR blocks")
    core_settings.get_settings.cache_clear()
    try:
        a, b = ind("[ipv4-addr:value = '8.8.8.8']"), ind("[ipv4-addr:value = '8.8.8.8']")
        community.put("Alpha", "shared", a, b)
        assert _correlated(community, a["id"]) == {b["id"]: "exact"}
        [item] = lookup(community.conn, community.who("Alpha"), ["10.0.0.1"])[0]["values"]
        assert item["warninglists"] == ["List of RFC 1918 CIDR blocks"]
    finally:
        core_settings.get_settings.cache_clear()


def test_only_the_latest_version_correlates(community: Community) -> None:
    old = ind("[domain-name:value = 'gone-bad.com']", created="2026-01-01T00:00:00.000Z")
    new = dict(old, modified="2026-01-02T00:00:00.000Z", pattern="[domain-name:value = 'still-bad.com']")
    other = ind("[domain-name:value = 'gone-bad.com']")
    community.put("Alpha", "shared", old, new, other)
    assert _correlated(community, other["id"]) == {}


def test_report_summary_over_readable_refs(community: Community) -> None:
    a = ind("[domain-name:value = 'evil-actor.com']")
    b = ind("[ipv4-addr:value = '45.137.21.9']")
    outside = ind("[domain-name:value = 'x.evil-actor.com'] OR [ipv4-addr:value = '45.137.21.9']")
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": "report--0d9a2a8c-4c0b-4b6c-9c61-0a5b2c3d4e5f",
        "created": "2026-01-05T00:00:00.000Z",
        "modified": "2026-01-05T00:00:00.000Z",
        "name": "Campaign write-up",
        "published": "2026-01-05T00:00:00.000Z",
        "object_refs": [a["id"], b["id"]],
        "object_marking_refs": [ind("[ipv4-addr:value = '1.1.1.1']")["object_marking_refs"][0]],
    }
    community.put("Alpha", "shared", a, b, outside, report)
    summary = report_correlations(community.conn, community.who("Bravo"), report["id"])
    assert summary["objects"] == 2
    [entry] = summary["correlated_objects"]
    assert entry["id"] == outside["id"]
    assert sorted(entry["via"]) == sorted([a["id"], b["id"]])
    # the report is a related context of its indicators in lookups
    [item] = lookup(community.conn, community.who("Bravo"), ["evil-actor.com"])[0]["values"]
    related = {m["id"]: m["related"] for m in item["matches"]}
    assert related[a["id"]] == [{"id": report["id"], "type": "report", "name": "Campaign write-up"}]


def test_a_pattern_naming_values_twice_is_stored_and_indexed_once(community: Community) -> None:
    long_url = "http://files.example.org/" + "a" * 600
    twice = ind(
        "[domain-name:value = 'Twice.Example'] OR [domain-name:value = 'twice.example'] OR "
        "[ipv4-addr:value = '91.215.1.0/24'] OR [ipv4-addr:value = '91.215.2.0/24'] OR "
        f"[url:value = '{long_url}'] OR [url:value = '{long_url}']"
    )
    other = ind(f"[domain-name:value = 'twice.example'] AND [url:value = '{long_url}']")
    inside = ind("[ipv4-addr:value = '91.215.2.9']")
    community.put("Alpha", "shared", twice, other, inside)
    assert _correlated(community, twice["id"]) == {other["id"]: "exact", inside["id"]: "cidr"}


def test_correlations_stop_counting_at_the_cap(community: Community, widespread_limit, count_cap) -> None:  # type: ignore[no-untyped-def]
    widespread_limit(2)
    count_cap(3)
    many = [ind("[domain-name:value = 'popular-bad.com']") for _ in range(8)]
    community.put("Alpha", "shared", *many)
    result = object_correlations(community.conn, community.who("Bravo"), many[0]["id"])
    assert result["correlations"] == []
    [item] = result["widespread"]
    assert item["count_capped"] is True
    assert 2 < item["count"] <= 4  # four answers read, the object itself left out when among them


def test_report_members_filling_the_cap_still_list_the_few_outside(  # type: ignore[no-untyped-def]
    community: Community, widespread_limit, count_cap
) -> None:
    # The report's own objects answer its probes but are left out: the capped answers may hold almost only
    # them, and the value is probed again in full rather than found widespread or cut short.
    widespread_limit(2)
    count_cap(3)
    members = [ind("[domain-name:value = 'evil-actor.com']") for _ in range(4)]
    outside = [ind("[domain-name:value = 'evil-actor.com']") for _ in range(2)]
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": "report--5e0c7a35-0a61-4d8e-9a27-3c1f0f6b1d11",
        "created": "2026-01-05T00:00:00.000Z",
        "modified": "2026-01-05T00:00:00.000Z",
        "name": "Members",
        "published": "2026-01-05T00:00:00.000Z",
        "object_refs": [m["id"] for m in members],
        "object_marking_refs": [members[0]["object_marking_refs"][0]],
    }
    community.put("Alpha", "shared", *members, *outside, report)
    summary = report_correlations(community.conn, community.who("Bravo"), report["id"])
    assert summary["widespread"] == []
    assert {e["id"] for e in summary["correlated_objects"]} == {o["id"] for o in outside}
