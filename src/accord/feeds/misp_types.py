"""MISP attribute types and object relations mapped to STIX 2.1 pattern comparisons and observables."""

from __future__ import annotations

from typing import Any

from accord.feeds.values import HASH_NAMES, comparison, literal
from accord.stix.ids import deterministic_sco_id

# Single-value MISP attribute types -> the value kinds of accord.feeds.values.
SIMPLE_KINDS: dict[str, str] = {
    "ip-src": "ip",
    "ip-dst": "ip",
    "domain": "domain",
    "hostname": "domain",
    "url": "url",
    "uri": "url",
    "link": "url",
    "email": "email",
    "email-src": "email",
    "email-dst": "email",
    "filename": "file-name",
    "mutex": "mutex",
    "regkey": "registry-key",
    "AS": "asn",
    "btc": "bitcoin",
    "user-agent": "user-agent",
    **{algo: f"hash:{algo}" for algo in HASH_NAMES},
}
_EXTRA_PATHS: dict[str, str] = {
    "email-subject": "email-message:subject",
    "mac-address": "mac-addr:value",
    "x509-fingerprint-md5": "x509-certificate:hashes.'MD5'",
    "x509-fingerprint-sha1": "x509-certificate:hashes.'SHA-1'",
    "x509-fingerprint-sha256": "x509-certificate:hashes.'SHA-256'",
    "ja3-fingerprint-md5": "network-traffic:extensions.'x-ja3'.fingerprint",
}

# Object relations of common MISP object templates -> pattern paths ("#" marks an integer property).
OBJECT_RELATIONS: dict[str, dict[str, str]] = {
    "file": {
        **{algo: f"file:hashes.{literal(name)}" for algo, name in HASH_NAMES.items()},
        "filename": "file:name",
        "size-in-bytes": "#file:size",
        "mime-type": "file:mime_type",
    },
    "domain-ip": {
        "domain": "domain-name:value",
        "hostname": "domain-name:value",
        "ip": "domain-name:resolves_to_refs[*].value",
    },
    "url": {"url": "url:value"},
    "ip-port": {
        "ip": "network-traffic:dst_ref.value",
        "ip-dst": "network-traffic:dst_ref.value",
        "ip-src": "network-traffic:src_ref.value",
        "dst-port": "#network-traffic:dst_port",
        "src-port": "#network-traffic:src_port",
    },
    "email": {
        "from": "email-message:from_ref.value",
        "to": "email-message:to_refs[*].value",
        "subject": "email-message:subject",
    },
    "registry-key": {"key": "windows-registry-key:key", "data": "windows-registry-key:values[*].data"},
}


def _port(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 <= int(value) <= 65535 else None


def attribute_comparisons(mtype: str, value: str) -> list[str]:
    """Pattern comparisons (all on one object type) for a MISP attribute; [] when the type has no pattern."""
    kind = SIMPLE_KINDS.get(mtype)
    if kind is not None:
        cmp = comparison(kind, value)
        return [cmp] if cmp else []
    if mtype in _EXTRA_PATHS:
        return [f"{_EXTRA_PATHS[mtype]} = {literal(value)}"]
    first, _, second = value.partition("|")
    if mtype.startswith("filename|"):
        name = HASH_NAMES.get(mtype.partition("|")[2])
        if name is None:
            return [f"file:name = {literal(first)}"]
        return [f"file:name = {literal(first)}", f"file:hashes.{literal(name)} = {literal(second)}"]
    if mtype in ("ip-src|port", "ip-dst|port", "hostname|port"):
        side = "src" if mtype == "ip-src|port" else "dst"
        port = _port(second)
        out = [f"network-traffic:{side}_ref.value = {literal(first)}"]
        return out + ([f"network-traffic:{side}_port = {port}"] if port is not None else [])
    if mtype == "domain|ip":
        return [f"domain-name:value = {literal(first)}", f"domain-name:resolves_to_refs[*].value = {literal(second)}"]
    if mtype == "regkey|value":
        key, data = literal(first), literal(second)
        return [f"windows-registry-key:key = {key}", f"windows-registry-key:values[*].data = {data}"]
    return []


def relation_comparison(template: str, relation: str, mtype: str, value: str) -> list[str]:
    """Comparisons for one attribute of a MISP object: by the template's relation, else by attribute type."""
    relations = OBJECT_RELATIONS.get(template)
    if relations is None:
        return attribute_comparisons(mtype, value)
    path = relations.get(relation)
    if path is None:
        return []  # a known template's other relations describe the object, they are not detection values
    if path.startswith("#"):
        return [f"{path[1:]} = {int(value)}"] if value.isdigit() else []
    return [f"{path} = {literal(value)}"]


def object_pattern(comparisons: list[str]) -> str | None:
    """One pattern from comparisons: an observation per object type, all required together."""
    groups: dict[str, list[str]] = {}
    for cmp in dict.fromkeys(comparisons):
        groups.setdefault(cmp.partition(":")[0], []).append(cmp)
    if not groups:
        return None
    return " AND ".join(f"[{' AND '.join(parts)}]" for parts in groups.values())


def _ip_sco(value: str) -> dict[str, Any]:
    return {"type": "ipv6-addr" if ":" in value else "ipv4-addr", "value": value}


def attribute_sco(mtype: str, value: str) -> dict[str, Any] | None:
    """The observable (SCO, with its deterministic id) for a MISP attribute, or None if it has none."""
    kind = SIMPLE_KINDS.get(mtype)
    first, _, second = value.partition("|")
    sco: dict[str, Any] | None = None
    if kind == "ip":
        sco = _ip_sco(value)
    elif kind in ("domain", "url", "email"):
        sco = {"type": {"domain": "domain-name", "url": "url", "email": "email-addr"}[kind], "value": value}
    elif kind is not None and kind.startswith("hash:"):
        sco = {"type": "file", "hashes": {HASH_NAMES[kind[5:]]: value}}
    elif kind == "file-name":
        sco = {"type": "file", "name": value}
    elif kind == "mutex":
        sco = {"type": "mutex", "name": value}
    elif kind == "registry-key":
        sco = {"type": "windows-registry-key", "key": value}
    elif kind == "asn":
        digits = value.upper().removeprefix("AS")
        sco = {"type": "autonomous-system", "number": int(digits)} if digits.isdigit() else None
    elif mtype == "mac-address":
        sco = {"type": "mac-addr", "value": value.lower()}
    elif mtype.startswith("filename|") and mtype.partition("|")[2] in HASH_NAMES:
        sco = {"type": "file", "name": first, "hashes": {HASH_NAMES[mtype.partition("|")[2]]: second}}
    if sco is None:
        return None
    sco = {"type": sco["type"], "spec_version": "2.1", **sco}
    sco["id"] = deterministic_sco_id(sco)
    return sco if sco["id"] else None
