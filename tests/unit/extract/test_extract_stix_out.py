"""STIX output: a valid 2.1 bundle, correct patterns, deterministic ids and the relationship heuristic."""

from __future__ import annotations

import json
import re

import pytest
from stix2validator import validate_instance, validate_string

from accord.extract import Finding, extract
from accord.extract.stix_out import findings_to_bundle
from accord.stix.ids import deterministic_sco_id

IDENTITY = "identity--8f5a1c3e-2b4d-4e6f-9a1b-3c5d7e9f1a2b"
TEXT = (
    "APT28 (Fancy Bear) used Emotet, Mimikatz and Spearphishing Attachment against ministries. The C2 was "
    "hxxps://cdn-update-check[.]com/a.js on 185.220.101[.]47 and 2001:41d0:8:e8ad::1 (net 5.252.176.0/22).\n\n"
    "Separately, Cobalt Strike beacons reached 45.133.1[.]20 and files.evil-share.org, dropping loader.dll "
    "(SHA-256 34896a68f812d810a485ed03241b4d419b1b673bd4755d05ad7853c1f76eb977, MD5 "
    "2f244f58d669cbee3772a077021721a2). Persistence: HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Upd. "
    "Mail: ops@evil-share.org. CVE-2021-44228, T1059.001, AS13335, wallet 16CeYqh3dWWSgsRbPVjQdXTepNuPQjfqAH. "
    "Resolver 8.8.8.8.\n"
)


def _warninglist(kind: str, value: str) -> list[str]:
    return ["public-dns-v4"] if value == "8.8.8.8" else []


@pytest.fixture(scope="module")
def bundle() -> dict:
    findings = extract(TEXT, warninglist=_warninglist)
    return findings_to_bundle(
        findings, title="Joint advisory", published="2024-05-01T00:00:00.000Z", created_by_ref=IDENTITY, text=TEXT
    )


def _of_type(bundle: dict, kind: str) -> list[dict]:
    return [o for o in bundle["objects"] if o["type"] == kind]


def test_bundle_passes_the_stix2_validator_without_errors(bundle: dict) -> None:
    result = validate_instance(bundle)
    assert result.is_valid, [str(e) for e in result.errors]
    # Only the advisory "SDO ids SHOULD be UUIDv4" remains: deterministic uuid5 ids are the point here.
    assert {re.search(r"\{(\d+)\}", str(w)).group(1) for w in result.warnings} <= {"103"}
    assert validate_string(json.dumps(bundle)).is_valid


def test_report_references_every_object(bundle: dict) -> None:
    (report,) = _of_type(bundle, "report")
    assert report["name"] == "Joint advisory"
    assert report["published"] == "2024-05-01T00:00:00.000Z"
    assert report["created_by_ref"] == IDENTITY
    assert set(report["object_refs"]) == {o["id"] for o in bundle["objects"]} - {report["id"]}


def test_indicator_patterns(bundle: dict) -> None:
    patterns = {o["pattern"] for o in _of_type(bundle, "indicator")}
    assert patterns >= {
        "[url:value = 'https://cdn-update-check.com/a.js']",
        "[domain-name:value = 'cdn-update-check.com']",
        "[ipv4-addr:value = '185.220.101.47']",
        "[ipv6-addr:value = '2001:41d0:8:e8ad::1']",
        "[ipv4-addr:value = '5.252.176.0/22']",
        "[email-addr:value = 'ops@evil-share.org']",
        "[file:name = 'loader.dll']",
        "[file:hashes.'SHA-256' = '34896a68f812d810a485ed03241b4d419b1b673bd4755d05ad7853c1f76eb977']",
        "[file:hashes.'MD5' = '2f244f58d669cbee3772a077021721a2']",
        "[windows-registry-key:key = "
        "'HKEY_CURRENT_USER\\\\Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\Upd']",
    }
    assert all(o["pattern_type"] == "stix" for o in _of_type(bundle, "indicator"))


def test_warninglisted_findings_are_not_indicators_unless_asked(bundle: dict) -> None:
    assert not any("8.8.8.8" in o["pattern"] for o in _of_type(bundle, "indicator"))
    findings = extract(TEXT, warninglist=_warninglist)
    with_listed = findings_to_bundle(findings, title="t", include_warninglisted=True)
    assert any("8.8.8.8" in o["pattern"] for o in _of_type(with_listed, "indicator"))


def test_pattern_literals_are_escaped() -> None:
    finding = Finding("windows-registry-key", "HKEY_CURRENT_USER\\Software\\It's", 0, 1, "")
    bundle = findings_to_bundle([finding], title="quotes")
    (indicator,) = _of_type(bundle, "indicator")
    assert indicator["pattern"] == "[windows-registry-key:key = 'HKEY_CURRENT_USER\\\\Software\\\\It\\'s']"
    assert validate_instance(bundle).is_valid


def test_scos_carry_spec_deterministic_ids(bundle: dict) -> None:
    scos = [
        o for o in bundle["objects"] if o["type"] in ("domain-name", "ipv4-addr", "url", "file", "autonomous-system")
    ]
    assert scos
    for sco in scos:
        assert sco["id"] == deterministic_sco_id(sco)
    domain = next(o for o in scos if o["type"] == "domain-name" and o["value"] == "cdn-update-check.com")
    assert domain["id"] == "domain-name--" + str(
        __import__("uuid").uuid5(
            __import__("uuid").UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), '{"value":"cdn-update-check.com"}'
        )
    )


def test_named_threats_and_identifiers(bundle: dict) -> None:
    (vuln,) = _of_type(bundle, "vulnerability")
    assert vuln["name"] == "CVE-2021-44228"
    assert vuln["external_references"] == [{"source_name": "cve", "external_id": "CVE-2021-44228"}]
    techniques = {o["external_references"][0]["external_id"]: o for o in _of_type(bundle, "attack-pattern")}
    assert set(techniques) == {"T1566.001", "T1059.001"}
    assert techniques["T1059.001"]["external_references"][0]["source_name"] == "mitre-attack"
    assert techniques["T1059.001"]["name"] == "PowerShell"
    (actor,) = _of_type(bundle, "intrusion-set")
    assert actor["name"] == "APT28"
    assert actor["aliases"] == ["Fancy Bear"]
    malware = {o["name"]: o for o in _of_type(bundle, "malware")}
    assert set(malware) == {"Emotet", "Cobalt Strike"}
    assert all(m["is_family"] is True for m in malware.values())
    assert [t["name"] for t in _of_type(bundle, "tool")] == ["Mimikatz"]
    assert [a["number"] for a in _of_type(bundle, "autonomous-system")] == [13335]


def test_relationships_follow_paragraphs(bundle: dict) -> None:
    names = {o["id"]: o.get("name") or o.get("value") for o in bundle["objects"]}
    rels = {
        (r["relationship_type"], names[r["source_ref"]], names[r["target_ref"]])
        for r in _of_type(bundle, "relationship")
    }
    assert ("uses", "APT28", "Emotet") in rels
    assert ("uses", "APT28", "Mimikatz") in rels
    assert ("uses", "APT28", "Spearphishing Attachment") in rels
    assert ("indicates", "185.220.101.47", "APT28") in rels
    assert ("indicates", "185.220.101.47", "Emotet") in rels
    # Second paragraph: Cobalt Strike with its own indicators, no actor there, so no "uses" for it.
    assert ("indicates", "45.133.1.20", "Cobalt Strike") in rels
    assert ("uses", "APT28", "Cobalt Strike") not in rels
    assert ("indicates", "45.133.1.20", "APT28") not in rels


def test_ids_are_stable_across_runs() -> None:
    findings = extract(TEXT)
    first = findings_to_bundle(findings, title="Joint advisory", created_by_ref=IDENTITY, text=TEXT)
    second = findings_to_bundle(findings, title="Joint advisory", created_by_ref=IDENTITY, text=TEXT)
    assert [o["id"] for o in first["objects"]] == [o["id"] for o in second["objects"]]


def test_empty_findings_still_give_a_valid_bundle() -> None:
    bundle = findings_to_bundle([], title="Nothing found")
    assert validate_instance(bundle).is_valid
