"""STIX 2.1 identifiers, object type families and deterministic SCO ids (spec §2.9, §6)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from accord.stix.canonical import canonical_string, canonicalize

__all__ = [
    "ID_CONTRIBUTING_PROPERTIES",
    "ID_RE",
    "META_TYPES",
    "SCO_DETERMINISTIC_NAMESPACE",
    "SCO_TYPES",
    "SDO_TYPES",
    "SRO_TYPES",
    "TYPE_RE",
    "deterministic_sco_id",
    "id_type",
    "is_stix_id",
]

TYPE_RE = re.compile(r"[a-z0-9-]{3,250}\Z")
# RFC 4122 variant bits (10xx) are required; uppercase hex is refused so one object has one id text.
# The uuid has a fixed length before \Z, so the split is unique: a lazy type group finds it with less backtracking.
ID_RE = re.compile(r"([a-z0-9-]{3,250}?)--([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\Z")

SDO_TYPES: frozenset[str] = frozenset(
    {
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    }
)
SRO_TYPES: frozenset[str] = frozenset({"relationship", "sighting"})
META_TYPES: frozenset[str] = frozenset({"language-content", "marking-definition", "extension-definition"})

# STIX 2.1 §6: each SCO type's ID contributing properties, in the spec's order.
ID_CONTRIBUTING_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "artifact": ("hashes", "payload_bin"),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("from_ref", "subject", "body"),
    "file": ("hashes", "name", "extensions", "parent_directory_ref"),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": (
        "start",
        "end",
        "src_ref",
        "dst_ref",
        "src_port",
        "dst_port",
        "protocols",
        "extensions",
    ),
    "process": (),
    "software": ("name", "cpe", "swid", "vendor", "version"),
    "url": ("value",),
    "user-account": ("account_type", "user_id", "account_login"),
    "windows-registry-key": ("key", "values"),
    "x509-certificate": ("hashes", "serial_number"),
}
SCO_TYPES: frozenset[str] = frozenset(ID_CONTRIBUTING_PROPERTIES)

SCO_DETERMINISTIC_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
_NAMESPACE_HASH = hashlib.sha1(SCO_DETERMINISTIC_NAMESPACE.bytes)  # noqa: S324 - UUIDv5 is defined on SHA-1
# The RFC 4122 variant keeps the low two bits of the nibble under "10": 8, 9, a or b.
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
# Spec §6: when several hashes are present, one is chosen in this order, else the first given.
_HASH_PREFERENCE = ("MD5", "SHA-1", "SHA-256", "SHA-512")


def is_stix_id(value: object) -> bool:
    """True if value is a well-formed STIX identifier `<type>--<uuid>`."""
    return isinstance(value, str) and ID_RE.match(value) is not None


def id_key(stix_id: str) -> int:
    """The store's compact lookup key for an identifier: 8 bytes of its BLAKE2b digest, as a signed 64-bit integer.

    An index of these is a quarter the size of one of the ids themselves, and new ids land on random pages of it
    either way, so each stored batch dirties a quarter of the pages. Two ids may share a key (about once in 2**64
    pairs): every lookup compares the id as well.
    """
    return int.from_bytes(hashlib.blake2b(stix_id.encode(), digest_size=8).digest(), "big", signed=True)


def id_type(stix_id: str) -> str:
    """The object type part of a STIX identifier."""
    return stix_id.rpartition("--")[0]


def _choose_hash(hashes: Mapping[str, Any]) -> dict[str, Any] | None:
    for name in _HASH_PREFERENCE:
        if name in hashes:
            return {name: hashes[name]}
    for name, value in hashes.items():
        return {name: value}
    return None


def deterministic_sco_id(obj: Mapping[str, Any]) -> str | None:
    """The UUIDv5 id an SCO must carry, or None when it has no ID contributing property."""
    obj_type = obj.get("type")
    if not isinstance(obj_type, str):
        return None
    props = ID_CONTRIBUTING_PROPERTIES.get(obj_type)
    if not props:
        return None
    contributing: dict[str, Any] = {}
    for name in props:
        value = obj.get(name)
        if value is None:
            continue
        if name == "hashes":
            if not isinstance(value, Mapping):
                return None
            value = _choose_hash(value)
            if value is None:
                continue
        contributing[name] = value
    if not contributing:
        return None
    try:
        (only_name, only_value), *rest = contributing.items()
        if not rest and isinstance(only_value, str):
            # The common single-string case ({"value": ...}) needs no general canonicaliser.
            text = f'{{"{only_name}":{canonical_string(only_value)}}}'
        else:
            text = canonicalize(contributing)
    except (TypeError, ValueError):
        return None
    # uuid.uuid5 by hand on the hex text: the version nibble becomes 5, the variant bits 10.
    digest = _NAMESPACE_HASH.copy()
    digest.update(text.encode("utf-8"))
    h = digest.hexdigest()
    return f"{obj_type}--{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"
