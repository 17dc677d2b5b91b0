"""Probes and match kinds for one value, and the stored form of index rows (no database)."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from accord.correlate.indexer import MAX_KEY, display_value, storage_key
from accord.correlate.matching import is_public_suffix, match_kind, probes_for, url_hosts
from accord.correlate.repository import CHILDREN, CONTAINS, EXACT, INSIDE
from accord.correlate.values import domain_key, normalize, values_of


def _row(text: str):  # type: ignore[no-untyped-def]
    [row] = [r for r in normalize(None, text) if r.kind in ("ip", "domain")][:1]
    return row


def test_address_probes_only_prefix_lengths_in_use() -> None:
    probes = probes_for(0, _row("10.1.2.3"), {"4": [8, 24, 32], "6": [48]}, related=True)
    assert [p.mode for p in probes] == [EXACT, CONTAINS, CONTAINS]
    assert probes[1].a == "4:0a000000" and probes[1].b == "4:0affffff"  # noqa: PT018
    assert probes[2].a == "4:0a010200" and probes[2].b == "4:0a0102ff"  # noqa: PT018


def test_cidr_probes_wider_cidrs_and_its_inside() -> None:
    probes = probes_for(3, _row("10.1.0.0/16"), {"4": [8, 16, 24]}, related=True)
    assert [(p.mode, p.a) for p in probes] == [(EXACT, "10.1.0.0/16"), (CONTAINS, "4:0a000000"), (INSIDE, "4:0a010000")]
    assert probes[-1].b == "4:0a01ffff"


def test_domain_probes_parents_and_children_but_never_suffixes() -> None:
    probes = probes_for(0, _row("a.b.evil.co.uk"), {}, related=True)
    # The domain itself and its subdomains are one key range; each parent up to the registrable domain is exact.
    assert [(p.mode, p.a, p.b) for p in probes] == [
        (CHILDREN, "uk.co.evil.b.a.", "uk.co.evil.b.a/"),
        (EXACT, "uk.co.evil.b.", ""),
        (EXACT, "uk.co.evil.", ""),
    ]
    assert is_public_suffix("co.uk")
    assert is_public_suffix("github.io")
    assert not is_public_suffix("evil.co.uk")
    assert probes_for(0, _row("evil.com"), {}, related=False) == [probes[1]._replace(a="com.evil.")]


def test_match_kinds() -> None:
    ip, domain = _row("10.1.2.3"), _row("www.evil.com")
    assert match_kind(ip, "ip", "10.1.2.3", set()) == "exact"
    assert match_kind(ip, "ip", "10.1.2.0/24", set()) == "cidr"
    assert match_kind(domain, "domain", "com.evil.", set()) == "parent-domain"
    hosts = url_hosts(normalize(None, "https://www.evil.com/x"))
    assert hosts == {("domain", "com.evil.www.")}
    assert match_kind(domain, "domain", "com.evil.www.", hosts) == "url-host"


def test_long_keys_are_stored_as_digests_and_shown_in_full() -> None:
    url = "http://evil.example/" + "a" * 2000
    assert len(storage_key(url)) < MAX_KEY
    assert storage_key(url) == storage_key(url)
    assert storage_key("short") == "short"
    assert display_value("domain", domain_key("a.evil.com"), None) == "a.evil.com"
    assert display_value("url", storage_key(url), url) == url


def test_link_rows_of_reports_relationships_and_sightings() -> None:
    report = {"type": "report", "object_refs": ["indicator--1", "malware--2", "indicator--1"]}
    assert [(r.kind, r.key) for r in values_of(report)] == [
        ("ref:report", "indicator--1"),
        ("ref:report", "malware--2"),
    ]
    rel = {"type": "relationship", "source_ref": "indicator--1", "target_ref": "malware--2"}
    assert {(r.key, r.value) for r in values_of(rel)} == {
        ("indicator--1", "malware--2"),
        ("malware--2", "indicator--1"),
    }
    sighting = {"type": "sighting", "sighting_of_ref": "indicator--1", "count": 3, "last_seen": "2026-01-01T00:00:00Z"}
    [row] = values_of(sighting)
    assert (row.kind, row.key, row.lo, row.hi, row.correlating) == (
        "ref:sighting",
        "indicator--1",
        "2026-01-01T00:00:00Z",
        "3",
        False,
    )


@given(st.ip_addresses(v=4), st.integers(0, 32), st.integers(0, 32))
def test_containment_probe_finds_exactly_the_cidrs_that_hold_an_address(addr, plen, other) -> None:  # type: ignore[no-untyped-def]
    net = ipaddress.ip_network(f"{addr}/{plen}", strict=False)
    [cidr] = normalize(None, str(net)) if plen < 32 else normalize(None, str(addr))
    probe_host = ipaddress.ip_address(int(addr) ^ (1 << (32 - other)) if other else int(addr))
    probes = probes_for(0, _row(str(probe_host)), {"4": [plen]}, related=True)
    hit = any(p.mode == CONTAINS and p.a == cidr.lo and p.b == cidr.hi for p in probes)
    assert hit == (plen < 32 and probe_host in net)
