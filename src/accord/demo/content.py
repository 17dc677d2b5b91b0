"""Deterministic, realistic demo STIX content for a newcomer's first look."""

from __future__ import annotations

import random
import uuid
from typing import Any

from accord.stix.markings import Tlp, tlp_marking_definition

NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")
TLP2 = {level: tlp_marking_definition(level)["id"] for level in Tlp}

ACTORS = ["Granite Typhoon", "Paper Jackal", "Silent Heron", "Copper Wasp", "Night Lantern", "Frost Vole"]
MALWARE = [
    ("StealWorm", "infostealer"),
    ("GhostLoader", "downloader"),
    ("RansomLeaf", "ransomware"),
    ("ByteCrab", "backdoor"),
    ("TinyRAT", "remote-access-trojan"),
    ("ShadowPad-like", "backdoor"),
    ("MintWiper", "wiper"),
    ("KeyHarvest", "keylogger"),
]
TLDS = ["com", "net", "org", "info", "io", "ru", "top", "xyz", "co.uk", "de"]
WORDS = [
    "secure",
    "update",
    "cdn",
    "mail",
    "login",
    "portal",
    "sync",
    "cloud",
    "account",
    "verify",
    "files",
    "api",
]

# Infrastructure that every demo organisation reports (one indicator in eleven), so that a newcomer sees partners'
# content correlate with their own: on report pages, in lookups and on the dashboard's top values.
SHARED_INFRA = [
    ("[ipv4-addr:value = '185.220.101.47']", "C2 server 185.220.101.47"),
    ("[domain-name:value = 'login-secure-mail.ru']", "Phishing domain login-secure-mail.ru"),
    ("[ipv4-addr:value = '45.155.205.233']", "C2 server 45.155.205.233"),
    ("[url:value = 'https://cdn-update-check.com/update.php']", "Payload URL on cdn-update-check.com"),
    ("[domain-name:value = 'portal-verify-account.top']", "Phishing domain portal-verify-account.top"),
    ("[ipv4-addr:value = '91.243.44.120']", "C2 server 91.243.44.120"),
    ("[domain-name:value = 'sync-files-cloud.xyz']", "Phishing domain sync-files-cloud.xyz"),
    ("[ipv4-addr:value = '194.26.192.64']", "C2 server 194.26.192.64"),
    ("[domain-name:value = 'api-mail-secure.info']", "Phishing domain api-mail-secure.info"),
    ("[ipv4-addr:value = '77.91.124.55']", "C2 server 77.91.124.55"),
]


def _id(kind: str, *parts: object) -> str:
    return f"{kind}--{uuid.uuid5(NS, '/'.join(map(str, (kind, *parts))))}"


def _ts(rng: random.Random, year: int = 2026) -> str:
    month, day = rng.randint(1, 10), rng.randint(1, 28)
    return (
        f"{year}-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000Z"
    )


def _pattern(rng: random.Random, org_key: str, i: int) -> tuple[str, str]:
    kind = rng.choice(["ipv4", "domain", "url", "sha256", "md5"])
    if kind == "ipv4":
        first = rng.choice([45, 77, 91, 103, 185, 194])
        ip = f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return f"[ipv4-addr:value = '{ip}']", f"C2 server {ip}"
    if kind in ("domain", "url"):
        dom = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}{rng.randint(1, 99)}.{rng.choice(TLDS)}"
        if kind == "url":
            return f"[url:value = 'https://{dom}/{rng.choice(WORDS)}.php']", f"Payload URL on {dom}"
        return f"[domain-name:value = '{dom}']", f"Phishing domain {dom}"
    if kind == "sha256":
        h = uuid.uuid5(NS, f"{org_key}{i}a").hex + uuid.uuid5(NS, f"{org_key}{i}b").hex
        return f"[file:hashes.'SHA-256' = '{h}']", "Malicious sample"
    h = uuid.uuid5(NS, f"{org_key}{i}m").hex
    return f"[file:hashes.MD5 = '{h}']", "Dropper sample"


def org_content(org_key: str, identity_id: str, *, seed: int, indicators: int = 110) -> list[dict[str, Any]]:
    """A realistic body of one organisation's intelligence: actors, malware, indicators, reports, sightings."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    common = {"spec_version": "2.1", "created_by_ref": identity_id}

    def marking() -> list[str]:
        return [TLP2[rng.choice([Tlp.CLEAR, Tlp.GREEN, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER, Tlp.RED])]]

    actors = []
    for name in rng.sample(ACTORS, 3):
        ts = _ts(rng, 2025)
        obj = {
            **common,
            "type": "intrusion-set",
            "id": _id("intrusion-set", org_key, name),
            "created": ts,
            "modified": ts,
            "name": name,
            "description": f"{name} is a financially motivated cluster.",
            "object_marking_refs": [TLP2[Tlp.GREEN]],
        }
        actors.append(obj)
    families = []
    for name, label in rng.sample(MALWARE, 5):
        ts = _ts(rng, 2025)
        families.append(
            {
                **common,
                "type": "malware",
                "id": _id("malware", org_key, name),
                "created": ts,
                "modified": ts,
                "name": name,
                "is_family": True,
                "malware_types": [label],
                "object_marking_refs": [TLP2[Tlp.GREEN]],
            }
        )
    out += actors + families
    for actor in actors:
        for fam in rng.sample(families, 2):
            out.append(_rel(common, "uses", actor, fam, rng, org_key))
    inds = []
    for i in range(indicators):
        ts = _ts(rng)
        pattern, name = _pattern(rng, org_key, i)
        if i % 11 == 5:
            pattern, name = SHARED_INFRA[(i // 11) % len(SHARED_INFRA)]
        ind = {
            **common,
            "type": "indicator",
            "id": _id("indicator", org_key, i),
            "created": ts,
            "modified": ts,
            "name": name,
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": ts,
            "indicator_types": ["malicious-activity"],
            "confidence": rng.choice([50, 70, 85, 95]),
            "object_marking_refs": marking(),
        }
        inds.append(ind)
        out.append(ind)
        out.append(_rel(common, "indicates", ind, rng.choice(families), rng, org_key))
        if i % 10 == 0:  # a later revision of some indicators: every version is kept
            out.append({**ind, "modified": ts.replace(".000Z", ".500Z"), "confidence": 99})
    for r in range(6):
        ts = _ts(rng)
        refs = [o["id"] for o in rng.sample(inds, 12)] + [rng.choice(actors)["id"]]
        out.append(
            {
                **common,
                "type": "report",
                "id": _id("report", org_key, r),
                "created": ts,
                "modified": ts,
                "name": f"{rng.choice(actors)['name']} campaign update #{r + 1}",
                "published": ts,
                "report_types": ["threat-actor", "campaign"],
                "object_refs": refs,
                "object_marking_refs": [TLP2[Tlp.GREEN]],
            }
        )
    for s in range(20):
        ts = _ts(rng)
        out.append(
            {
                **common,
                "type": "sighting",
                "id": _id("sighting", org_key, s),
                "created": ts,
                "modified": ts,
                "sighting_of_ref": rng.choice(inds)["id"],
                "count": rng.randint(1, 40),
                "where_sighted_refs": [identity_id],
                "object_marking_refs": [TLP2[Tlp.AMBER]],
            }
        )
    return out


def _rel(
    common: dict[str, Any],
    kind: str,
    src: dict[str, Any],
    dst: dict[str, Any],
    rng: random.Random,
    org_key: str,
) -> dict[str, Any]:
    ts = _ts(rng)
    return {
        **common,
        "type": "relationship",
        "id": _id("relationship", org_key, src["id"], kind, dst["id"]),
        "created": ts,
        "modified": ts,
        "relationship_type": kind,
        "source_ref": src["id"],
        "target_ref": dst["id"],
        "object_marking_refs": [TLP2[Tlp.GREEN]],
    }


def marking_definitions() -> list[dict[str, Any]]:
    """The TLP 2.0 marking definitions, so exports and TAXII clients can resolve them."""
    return [tlp_marking_definition(level) for level in Tlp]
