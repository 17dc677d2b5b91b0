"""MISP event JSON: one event per report, or one per collection and day (the MISP feed's events).

Attribute types and categories follow MISP's describeTypes; `to_ids` is set for the active values of
indicators that are on no warninglist (an observable only records that a value was seen). Each attribute is
tagged with its object's TLP (the node default when unmarked) and labels; a report's event carries galaxy tags
for the ATT&CK techniques, intrusion sets and malware it references. Distribution follows TLP, so Accord's own
MISP feed reader (accord.feeds.misp) gives back the same TLP: CLEAR/GREEN "all communities", AMBER "this
community", AMBER+STRICT/RED "your organisation only".

An event is streamed: its attributes are written as they are read, and the fields known only at the end (its
timestamp) after them (JSON objects are unordered), so an event of any size takes constant memory.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from accord.exports.source import Item
from accord.stix.markings import Tlp
from accord.stix.timestamps import timestamp_to_micros

EXPORT_NAMESPACE = uuid.UUID("3f1d6c52-8a0e-5b47-9c21-7e4d5a6b8c90")

# Export kind -> (MISP type, category).
MISP_TYPES: dict[str, tuple[str, str]] = {
    "ip": ("ip-dst", "Network activity"),
    "cidr": ("ip-dst", "Network activity"),
    "domain": ("domain", "Network activity"),
    "url": ("url", "Network activity"),
    "email": ("email-src", "Payload delivery"),
    "md5": ("md5", "Payload delivery"),
    "sha1": ("sha1", "Payload delivery"),
    "sha224": ("sha224", "Payload delivery"),
    "sha256": ("sha256", "Payload delivery"),
    "sha384": ("sha384", "Payload delivery"),
    "sha512": ("sha512", "Payload delivery"),
    "ssdeep": ("ssdeep", "Payload delivery"),
    "tlsh": ("tlsh", "Payload delivery"),
    "file-name": ("filename", "Payload delivery"),
    "mutex": ("mutex", "Artifacts dropped"),
    "registry-key": ("regkey", "Persistence mechanism"),
    "asn": ("AS", "Network activity"),
    "user-agent": ("user-agent", "Network activity"),
    "cve": ("vulnerability", "External analysis"),
    "bitcoin": ("btc", "Financial fraud"),
}
# TLP -> MISP distribution (0 your organisation only, 1 this community, 3 all communities).
_DISTRIBUTION = {Tlp.CLEAR: "3", Tlp.GREEN: "3", Tlp.AMBER: "1", Tlp.AMBER_STRICT: "0", Tlp.RED: "0"}
_GALAXY_TYPES = ("attack-pattern", "intrusion-set", "threat-actor", "malware")


def tlp_tag(tlp: Tlp) -> str:
    """MISP's tag for a TLP 2.0 level, e.g. 'tlp:amber+strict'."""
    return tlp.label.lower()


_TLP_TAGS = {level: {"name": tlp_tag(level)} for level in Tlp}
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_NAMESPACED = hashlib.sha1(EXPORT_NAMESPACE.bytes)  # noqa: S324 - what a name-based (version 5) UUID is made of


def event_uuid(key: str) -> str:
    """A stable event uuid for an export key (a report id, or a collection and day): uuid.uuid5 in the
    export namespace, computed without building UUID objects (one per exported attribute: bench_exports)."""
    digest = _NAMESPACED.copy()
    digest.update(key.encode())
    x = digest.hexdigest()  # its first 128 bits, with the version (5) and the variant (RFC 4122) set
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def _seconds(ts: Any) -> int | None:
    return _stamp_seconds(ts) if isinstance(ts, str) else None


@lru_cache(maxsize=1_024)  # objects stored together mostly share their timestamps
def _stamp_seconds(ts: str) -> int | None:
    try:
        return timestamp_to_micros(ts) // 1_000_000
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EventHead:
    """What an event says about itself."""

    uuid: str
    info: str
    date: str  # YYYY-MM-DD
    orgc_name: str
    orgc_uuid: str
    tlp: Tlp | None = None
    tags: tuple[str, ...] = ()


def attributes(item: Item, default_tlp: Tlp) -> Iterator[dict[str, Any]]:
    """The MISP attributes of one exported object."""
    tlp = default_tlp if item.tlp is None else item.tlp
    labels = item.obj.get("labels")
    tags = [_TLP_TAGS[tlp]] + [
        {"name": x} for x in (labels if isinstance(labels, list) else ()) if isinstance(x, str) and x
    ]
    stamp = _seconds(item.obj.get("modified")) or _seconds(item.obj.get("created")) or item.seq // 1_000_000
    comment = item.obj.get("name") if item.indicator else None
    for v in item.values:
        mapped = MISP_TYPES.get(v.kind)
        if mapped is None:
            continue
        attr: dict[str, Any] = {
            "uuid": event_uuid(f"{item.id}/{v.kind}/{v.value}"),
            "type": mapped[0],
            "category": mapped[1],
            "value": v.value,
            "to_ids": item.indicator and v.active and not v.listed,
            "timestamp": str(stamp),
            "distribution": _DISTRIBUTION[tlp],
            "comment": comment if isinstance(comment, str) else "",
            "Tag": tags,
        }
        if v.listed:
            attr["comment"] = (
                (attr["comment"] + " " if attr["comment"] else "") + "warninglists: " + ", ".join(v.listed)
            )
        if item.sightings and item.last_sighting_us:
            attr["Sighting"] = [
                {"type": "0", "date_sighting": str(item.last_sighting_us // 1_000_000), "source": "accord"}
            ]
        yield attr


def galaxy_tags(objects: Iterable[dict[str, Any]]) -> list[str]:
    """MISP galaxy tags for the ATT&CK techniques, intrusion sets, threat actors and malware among objects."""
    tags = []
    for obj in objects:
        name = obj.get("name")
        if not isinstance(name, str):
            continue
        kind = obj.get("type")
        if kind == "attack-pattern":
            ext = next(
                (
                    r.get("external_id")
                    for r in obj.get("external_references") or ()
                    if isinstance(r, dict) and r.get("source_name") == "mitre-attack"
                ),
                None,
            )
            tags.append(
                f'misp-galaxy:mitre-attack-pattern="{name} - {ext}"' if ext else f'misp-galaxy:attack-pattern="{name}"'
            )
        elif kind in ("intrusion-set", "threat-actor"):
            tags.append(f'misp-galaxy:threat-actor="{name}"')
        elif kind == "malware":
            tags.append(f'misp-galaxy:malpedia="{name}"')
    return sorted(set(tags))


CHUNK_BYTES = 65_536


def event_stream(
    head: EventHead, items: Iterable[Item], default_tlp: Tlp, *, stamp_by_added: bool = False
) -> Iterator[bytes]:
    """One MISP event document ({"Event": {...}}) streamed from its objects' attributes.

    Its timestamp is its newest attribute's; with stamp_by_added, when its newest object was added to the
    node (what a MISP feed's manifest says of a day's event, so that a feed client sees the two agree).
    """
    opening: bytes = b'{"Event":{"Attribute":['
    parts: list[bytes] = []
    size = 0
    newest = 0
    written = False  # attributes already yielded: the next piece starts with a comma
    for item in items:
        if stamp_by_added:
            newest = max(newest, item.seq // 1_000_000)
        for attr in attributes(item, default_tlp):
            if not stamp_by_added:
                newest = max(newest, int(attr["timestamp"]))
            data = orjson.dumps(attr)
            parts.append(data)
            size += len(data)
        if size >= CHUNK_BYTES:  # written in large pieces: a piece per attribute costs more than the attribute
            yield opening + (b"," if written else b"") + b",".join(parts)
            opening, parts, size, written = b"", [], 0, True
    if parts:
        yield opening + (b"," if written else b"") + b",".join(parts)
    elif opening:
        yield opening
    tags = ([tlp_tag(head.tlp)] if head.tlp is not None else []) + list(head.tags)
    tail = {
        "uuid": head.uuid,
        "info": head.info,
        "date": head.date,
        "timestamp": str(newest),
        "publish_timestamp": str(newest),
        "published": True,
        "analysis": "2",
        "threat_level_id": "4",
        "distribution": _DISTRIBUTION[head.tlp] if head.tlp is not None else "3",
        "Orgc": {"name": head.orgc_name, "uuid": head.orgc_uuid},
        "Tag": [{"name": t} for t in tags],
    }
    yield b"]," + orjson.dumps(tail)[1:] + b"}\n"
