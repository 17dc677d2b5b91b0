"""Plain feed values (text lists, CSV rows) as STIX 2.1 indicators with deterministic ids and valid patterns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from accord.correlate.observables import normalize
from accord.stix.markings import Tlp, tlp_marking_definition

# Ids of feed-derived objects: uuid5 over (feed, kind, value), so re-pulling a feed names the same objects.
FEED_NAMESPACE = uuid.UUID("2f6f3c1e-8d7a-5b0e-9c3d-4a1b7e6f0d25")

# What users may pass as --type (STIX, MISP and short names) -> the value-index kind used to normalise it.
TYPE_ALIASES: dict[str, str] = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "ip": "ip",
    "ip-src": "ip",
    "ip-dst": "ip",
    "domain-name": "domain",
    "domain": "domain",
    "hostname": "domain",
    "url": "url",
    "uri": "url",
    "link": "url",
    "email-addr": "email",
    "email": "email",
    "email-src": "email",
    "email-dst": "email",
    "file:name": "file-name",
    "filename": "file-name",
    "file-name": "file-name",
    "mutex": "mutex",
    "windows-registry-key": "registry-key",
    "regkey": "registry-key",
    "registry-key": "registry-key",
    "autonomous-system": "asn",
    "as": "asn",
    "asn": "asn",
    "vulnerability": "cve",
    "cve": "cve",
    "btc": "bitcoin",
    "bitcoin": "bitcoin",
    "user-agent": "user-agent",
    "hash": "hash",
    "file:hashes": "hash",
}
HASH_NAMES = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "ssdeep": "SSDEEP",
    "tlsh": "TLSH",
}
for _algo in HASH_NAMES:
    TYPE_ALIASES[_algo] = f"hash:{_algo}"
    TYPE_ALIASES[f"file:{_algo}"] = f"hash:{_algo}"
    TYPE_ALIASES[f"file:hashes.{_algo}"] = f"hash:{_algo}"


def kind_for(type_name: str) -> str:
    """The value kind for a user-facing type name; ValueError if unknown."""
    kind = TYPE_ALIASES.get(type_name.strip().lower())
    if kind is None:
        raise ValueError(f"unknown value type {type_name!r}; use one of {', '.join(sorted(TYPE_ALIASES))}")
    return kind


@dataclass(frozen=True, slots=True)
class Item:
    """One normalised value of a feed, with the feed's comment for it."""

    kind: str
    value: str
    comment: str = ""


def to_item(kind: str | None, raw: str, comment: str = "") -> Item | None:
    """The normalised item for a raw value (kind detected when None), or None if it is not recognisable."""
    rows = normalize(kind, raw)
    if not rows:
        return None
    row = rows[0]  # a URL also yields its host's domain row; the first row is the value itself
    if kind == "registry-key":
        # Keep the key as the feed wrote it (the index lowercases and expands hive names).
        return Item(row.kind, raw.strip(), comment)
    return Item(row.kind, row.value, comment)


def literal(value: str) -> str:
    """A STIX pattern string literal: backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def comparison(kind: str, value: str) -> str | None:
    """The STIX pattern comparison (without brackets) for a value of a kind, or None if there is none."""
    if kind == "ip":
        return f"{'ipv6-addr' if ':' in value else 'ipv4-addr'}:value = {literal(value)}"
    if kind.startswith("hash:"):
        name = HASH_NAMES.get(kind[5:])
        return None if name is None else f"file:hashes.{literal(name)} = {literal(value)}"
    simple = {
        "domain": "domain-name:value",
        "url": "url:value",
        "email": "email-addr:value",
        "file-name": "file:name",
        "mutex": "mutex:name",
        "registry-key": "windows-registry-key:key",
        "user-agent": "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
        # STIX 2.1 has no wallet observable; the pattern names a custom object type.
        "bitcoin": "x-crypto-wallet:value",
    }.get(kind)
    if simple is not None:
        return f"{simple} = {literal(value)}"
    if kind == "asn":
        digits = value.upper().removeprefix("AS")
        return f"autonomous-system:number = {int(digits)}" if digits.isdigit() else None
    return None


def feed_object_id(stix_type: str, feed_name: str, kind: str, value: str) -> str:
    """The deterministic id of the object a feed value becomes."""
    return f"{stix_type}--{uuid.uuid5(FEED_NAMESPACE, f'{feed_name}|{kind}|{value}')}"


def marking_refs(tlp: Tlp | None) -> dict[str, Any]:
    """The object_marking_refs property for a TLP level (empty when unmarked)."""
    return {} if tlp is None else {"object_marking_refs": [tlp_marking_definition(tlp)["id"]]}


def item_object(item: Item, feed_name: str, seen: str, tlp: Tlp | None) -> dict[str, Any] | None:
    """The indicator (or, for CVE ids, vulnerability) for a feed item; `seen` is its first-seen timestamp."""
    common: dict[str, Any] = {"spec_version": "2.1", "created": seen, "modified": seen}
    if item.kind == "cve":
        obj: dict[str, Any] = {
            "type": "vulnerability",
            **common,
            "id": feed_object_id("vulnerability", feed_name, item.kind, item.value),
            "name": item.value,
            "external_references": [{"source_name": "cve", "external_id": item.value}],
        }
    else:
        cmp = comparison(item.kind, item.value)
        if cmp is None:
            return None
        obj = {
            "type": "indicator",
            **common,
            "id": feed_object_id("indicator", feed_name, item.kind, item.value),
            "name": item.value,
            "pattern": f"[{cmp}]",
            "pattern_type": "stix",
            "valid_from": seen,
            "indicator_types": ["malicious-activity"],
            "labels": [f"feed:{feed_name}"],
        }
    if item.comment:
        obj["description"] = item.comment
    obj.update(marking_refs(tlp))
    return obj
