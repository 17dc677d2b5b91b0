"""MISP feeds (manifest.json + <uuid>.json events) converted faithfully to STIX 2.1.

An event becomes a `report` (name = info) referencing what its attributes and objects become: `to_ids`
attributes become indicators with STIX patterns, the others observables (SCOs); MISP objects become one
indicator with a combined pattern; `vulnerability` attributes become vulnerability SDOs. Tags become labels,
`tlp:*` tags TLP 2.0 markings. Ids derive from the MISP uuids, so re-pulling an event names the same objects.

The organisation that created the event (its `Orgc`) is the content's creator: every SDO names the identity of
its record as `created_by_ref`. What MISP shares with the feed's organisation only (`distribution` 0, "your
organisation only", or 4, a sharing group, on the event, object or attribute; 5 inherits) is marked
TLP:AMBER+STRICT when its own TLP is lower, so that it reaches no one else.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accord.feeds.errors import FeedError
from accord.feeds.misp_types import attribute_comparisons, attribute_sco, object_pattern, relation_comparison
from accord.feeds.values import marking_refs
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.stix.timestamps import micros_to_timestamp

# For MISP uuids that are not RFC 4122 v4-style (STIX ids need the variant bits), derive a stable uuid5.
MISP_NAMESPACE = uuid.UUID("8b9c1f0e-3a6d-5e27-b4c8-1d2e3f405a6b")
# Creators' identity ids derive from their Orgc uuid in a namespace of Accord's, never the uuid itself: a feed
# that names a local organisation's or a peer's identity uuid as its creator still gets a record of its own.
CREATOR_NAMESPACE = uuid.UUID("c6f1a3d2-7b4e-5a90-8d1c-2e3f4a5b6c7d")
SHARED = frozenset({1, 2, 3})  # MISP distribution: this community, connected communities, all communities
INHERIT = 5
_STIX_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_UUID_NAME = re.compile(r"[0-9a-fA-F-]{36}\Z")


def misp_id(stix_type: str, misp_uuid: str) -> str:
    """A STIX id carrying the MISP uuid when it is a valid STIX uuid, else one derived from it."""
    low = str(misp_uuid).lower()
    if _STIX_UUID.match(low):
        return f"{stix_type}--{low}"
    return f"{stix_type}--{uuid.uuid5(MISP_NAMESPACE, low)}"


@dataclass(frozen=True, slots=True)
class Creator:
    """The organisation that created a MISP event (its Orgc), as the record that owns the event's content."""

    identity: str
    uuid: str
    name: str


def event_creator(event: Mapping[str, Any]) -> Creator | None:
    """The creator (Orgc) of a MISP event, or None when it names none."""
    orgc = event.get("Orgc")
    if not isinstance(orgc, Mapping):
        return None
    key = str(orgc.get("uuid") or "").strip().lower()
    if not key:
        return None
    name = " ".join(str(orgc.get("name") or "").split())[:150] or f"MISP organisation {key[:36]}"
    return Creator(f"identity--{uuid.uuid5(CREATOR_NAMESPACE, key)}", key, name)


def _restricted(holder: Mapping[str, Any], inherited: bool) -> bool:
    """Whether a MISP event, object or attribute is for the feed's organisation only (distribution 0 or 4)."""
    value = holder.get("distribution")
    if value is None or value == "":
        return inherited
    try:
        level = int(str(value))
    except ValueError:
        return True  # not a distribution MISP defines: kept local, like 0
    if level == INHERIT:
        return inherited
    # An item never reaches further than its holder: MISP checks the event before the attribute.
    return inherited or level not in SHARED


def _listed(holder: Mapping[str, Any], key: str) -> list[Any]:
    """The list under key; a missing or malformed one (a feed is untrusted JSON) holds nothing."""
    found = holder.get(key)
    return found if isinstance(found, list) else []


def _ts(epoch: Any) -> str:
    try:
        return micros_to_timestamp(int(epoch) * 1_000_000)
    except (TypeError, ValueError, OverflowError):  # OverflowError: outside the years 1-9999
        raise FeedError(f"invalid MISP timestamp {str(epoch)[:40]!r}") from None


def _tags(holder: Mapping[str, Any]) -> list[str]:
    return [t["name"] for t in _listed(holder, "Tag") if isinstance(t, Mapping) and isinstance(t.get("name"), str)]


def tlp_from_tags(tags: list[str]) -> Tlp | None:
    """The most restrictive TLP among MISP `tlp:*` tags, or None."""
    best: Tlp | None = None
    for tag in tags:
        if tag.lower().startswith("tlp:"):
            try:
                level = Tlp.parse(tag)
            except ValueError:
                continue
            if best is None or level > best:
                best = level
    return best


def _labels(tags: list[str]) -> dict[str, Any]:
    labels = sorted({t for t in tags if not t.lower().startswith("tlp:")})
    return {"labels": labels} if labels else {}


def manifest_changes(manifest: Any, seen: Mapping[str, str]) -> list[tuple[str, str]]:
    """(event uuid, timestamp) of the manifest's events that are new or changed since `seen`."""
    if not isinstance(manifest, dict):
        raise FeedError("invalid MISP manifest: expected a JSON object of events by uuid")
    changes = []
    for key, entry in manifest.items():
        if not _UUID_NAME.match(str(key)) or not isinstance(entry, Mapping):
            raise FeedError(f"invalid MISP manifest: entry {str(key)[:60]!r} is not an event uuid with its metadata")
        stamp = str(entry.get("timestamp", ""))
        if seen.get(key.lower()) != stamp:
            changes.append((key.lower(), stamp))
    return sorted(changes)


class _Converter:
    """The STIX objects of one MISP event."""

    def __init__(self, event: Mapping[str, Any], default_tlp: Tlp | None, creator: Creator | None) -> None:
        self.event = event
        tags = _tags(event)
        tagged = tlp_from_tags(tags)
        self.event_tlp = default_tlp if tagged is None else tagged
        self.event_tags = tags
        self.event_restricted = _restricted(event, inherited=False)
        self.creator = creator
        date = str(event.get("date", ""))
        self.event_created = f"{date}T00:00:00.000000Z" if _DATE.match(date) else _ts(event.get("timestamp"))
        self.objects: dict[str, dict[str, Any]] = {}
        self.tlps: set[Tlp] = set()
        self.tlp_of: dict[str, Tlp | None] = {}  # each object's marking, as converted

    def _times(self, holder: Mapping[str, Any]) -> tuple[str, str]:
        modified = _ts(holder.get("timestamp", self.event.get("timestamp")))
        # created never changes between versions: the earlier of the event date and the first timestamp.
        return min(self.event_created, modified), modified

    def _marked(self, obj: dict[str, Any], tags: list[str], local: bool) -> dict[str, Any]:
        tlp = tlp_from_tags(tags)
        if tlp is None:
            tlp = self.event_tlp
        if local and (tlp is None or tlp < Tlp.AMBER_STRICT):
            tlp = Tlp.AMBER_STRICT
        if tlp is not None:
            self.tlps.add(tlp)
        self.tlp_of[obj["id"]] = tlp
        obj.update(marking_refs(tlp))
        return obj

    def _sdo(self, stix_type: str, holder: Mapping[str, Any], **props: Any) -> dict[str, Any]:
        created, modified = self._times(holder)
        obj = {"type": stix_type, "spec_version": "2.1", "id": misp_id(stix_type, holder["uuid"])}
        obj.update(created=created, modified=modified, **props)
        if self.creator is not None:
            obj["created_by_ref"] = self.creator.identity
        return obj

    def attribute(self, attr: Mapping[str, Any], holder_restricted: bool) -> None:
        mtype, value = str(attr.get("type", "")), str(attr.get("value", ""))
        if not value or "uuid" not in attr or attr.get("deleted") in (True, "1", 1):
            return
        local = _restricted(attr, holder_restricted)
        tags = _tags(attr)
        extra: dict[str, Any] = {"description": str(attr["comment"])} if attr.get("comment") else {}
        if mtype == "vulnerability":
            obj = self._sdo("vulnerability", attr, name=value, **extra)
            obj["external_references"] = [{"source_name": "cve", "external_id": value}]
            obj.update(_labels(tags))
            self.objects[obj["id"]] = self._marked(obj, tags, local)
            return
        if attr.get("to_ids") in (True, "1", 1):
            pattern = object_pattern(attribute_comparisons(mtype, value))
            if pattern is not None:
                self._indicator(attr, f"{mtype}: {value}", pattern, tags, extra, local)
                return
        sco = attribute_sco(mtype, value)
        if sco is not None and sco["id"] not in self.objects:
            self.objects[sco["id"]] = self._marked(sco, tags, local)

    def _indicator(
        self,
        holder: Mapping[str, Any],
        name: str,
        pattern: str,
        tags: list[str],
        extra: dict[str, Any],
        local: bool,
    ) -> None:
        obj = self._sdo("indicator", holder, name=name[:300], pattern=pattern, pattern_type="stix", **extra)
        obj["valid_from"] = obj["created"]
        obj["indicator_types"] = ["malicious-activity"]
        category = str(holder.get("category") or holder.get("meta-category") or "")
        if category:
            phase = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")
            obj["kill_chain_phases"] = [{"kill_chain_name": "misp-category", "phase_name": phase}]
        obj.update(_labels(tags))
        self.objects[obj["id"]] = self._marked(obj, tags, local)

    def misp_object(self, mobj: Mapping[str, Any]) -> None:
        attrs = [a for a in _listed(mobj, "Attribute") if isinstance(a, Mapping) and a.get("value") not in (None, "")]
        if "uuid" not in mobj or not attrs or mobj.get("deleted") in (True, "1", 1):
            return
        object_local = _restricted(mobj, self.event_restricted)
        template = str(mobj.get("name", ""))
        if any(a.get("to_ids") in (True, "1", 1) for a in attrs):
            comparisons: list[str] = []
            for a in attrs:
                comparisons += relation_comparison(
                    template, str(a.get("object_relation", "")), str(a.get("type", "")), str(a["value"])
                )
            pattern = object_pattern(comparisons)
            if pattern is not None:
                tags = sorted({t for a in attrs for t in _tags(a)})
                extra = {"description": str(mobj["comment"])} if mobj.get("comment") else {}
                # One pattern holds every attribute's value: it is kept local if any of them is.
                local = any(_restricted(a, object_local) for a in attrs)
                self._indicator(mobj, f"{template} object", pattern, tags, extra, local)
                return
        for a in attrs:
            self.attribute({**a, "to_ids": False}, object_local)

    def report(self) -> dict[str, Any]:
        ev = self.event
        # The report names no object more restricted than itself: whoever reads it would learn their ids, and an
        # observable's id is derived from its value. Unmarked counts as TLP:AMBER here (the usual R5 default).
        shown = self.event_tlp
        if self.event_restricted and (shown is None or shown < Tlp.AMBER_STRICT):
            shown = Tlp.AMBER_STRICT
        ceiling = Tlp.AMBER if shown is None else shown
        refs = [oid for oid in self.objects if (self.tlp_of[oid] or Tlp.AMBER) <= ceiling]
        published = ev.get("publish_timestamp")
        stamp = ev.get("timestamp")
        if published not in (None, "", "0", 0) and str(published).isdigit() and str(stamp).isdigit():
            # Publishing alone changes the report: its version is the later of the two timestamps.
            stamp = max(int(str(stamp)), int(str(published)))
        obj = self._sdo("report", {**ev, "timestamp": stamp}, name=str(ev.get("info") or "MISP event")[:300])
        obj["published"] = _ts(published) if published not in (None, "", "0", 0) else obj["created"]
        obj["report_types"] = ["threat-report"]
        obj["object_refs"] = refs or [obj["id"]]
        obj["external_references"] = [{"source_name": "misp", "external_id": str(ev["uuid"])}]
        obj.update(_labels(self.event_tags))
        return self._marked(obj, [], self.event_restricted)


def event_objects(doc: Any, default_tlp: Tlp | None) -> tuple[Creator | None, list[dict[str, Any]]]:
    """The creator and the STIX objects of one MISP event document ({"Event": {...}}), TLP definitions first."""
    event = doc.get("Event") if isinstance(doc, Mapping) else None
    if not isinstance(event, Mapping) or "uuid" not in event:
        raise FeedError("invalid MISP event: expected {'Event': {...}} with a uuid")
    creator = event_creator(event)
    conv = _Converter(event, default_tlp, creator)
    for attr in _listed(event, "Attribute"):
        if isinstance(attr, Mapping):
            conv.attribute(attr, conv.event_restricted)
    for mobj in _listed(event, "Object"):
        if isinstance(mobj, Mapping):
            conv.misp_object(mobj)
    report = conv.report()
    markings = [tlp_marking_definition(level) for level in sorted(conv.tlps)]
    return creator, [*markings, *conv.objects.values(), report]
