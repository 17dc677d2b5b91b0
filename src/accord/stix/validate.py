"""Validation of one STIX 2.1 object on its way into the store: None, or one precise reason."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from accord.stix.ids import ID_RE, META_TYPES, SCO_TYPES, SDO_TYPES, SRO_TYPES, TYPE_RE, deterministic_sco_id
from accord.stix.patterns import check_pattern
from accord.stix.timestamps import normalize_timestamp

__all__ = ["is_versioned", "object_version", "validate_object"]

# Timestamp properties of the 2.1 objects whose names mean a timestamp wherever they appear.
_TIMESTAMP_PROPS = (
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "published",
    "first_observed",
    "last_observed",
    "start_time",
    "stop_time",
    "analysis_started",
    "analysis_ended",
    "submitted",
    "object_modified",
)
_TYPE_TIMESTAMP_PROPS: dict[str, tuple[str, ...]] = {
    "network-traffic": ("start", "end"),
    "email-message": ("date",),
    "process": ("created_time",),
    "file": ("ctime", "mtime", "atime"),
    "directory": ("ctime", "mtime", "atime"),
    "windows-registry-key": ("modified_time",),
    "x509-certificate": ("validity_not_before", "validity_not_after"),
    "user-account": (
        "account_created",
        "account_expires",
        "credential_last_changed",
        "account_first_login",
        "account_last_login",
    ),
}
_TIMESTAMPS = frozenset(_TIMESTAMP_PROPS)
_SCO_TIMESTAMPS = {t: _TIMESTAMPS | set(names) for t, names in _TYPE_TIMESTAMP_PROPS.items()}
# (earlier, later): the spec's ordering constraints between timestamps.
_ORDERINGS = (
    ("created", "modified"),
    ("first_seen", "last_seen"),
    ("first_observed", "last_observed"),
    ("start_time", "stop_time"),
)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "language-content": ("object_ref", "object_modified", "contents"),
    "extension-definition": ("name", "schema", "version", "extension_types", "created_by_ref"),
    "marking-definition": ("created",),
}
_STRING_PROPS = frozenset(("name", "description", "pattern", "pattern_type", "relationship_type", "lang", "content"))
_VERSIONED = SDO_TYPES | SRO_TYPES | {"language-content", "extension-definition"}
_MARKING_PREFIX = "marking-definition--"
_CONTAINERS = (dict, list)
# Property kinds, classified once per key: type, id and spec_version are checked before the loop.
_SKIP, _TIMESTAMP, _STRING, _REF, _REFS, _CHECKED, _OTHER = range(7)
_KINDS_SIZE = 1024  # bounded: custom objects may carry any property names
_KINDS: dict[str, int] = dict.fromkeys(("type", "id", "spec_version"), _SKIP)
_SCO_KINDS = {obj_type: dict(_KINDS) for obj_type in _SCO_TIMESTAMPS}
_STANDARD_TYPES = SDO_TYPES | SRO_TYPES | SCO_TYPES | META_TYPES
# Identifiers recently proven well-formed: references point at objects just seen (bounded, then reset).
_KNOWN_IDS: set[str] = set()
_KNOWN_IDS_SIZE = 8192


def validate_object(obj: object, *, max_depth: int = 32) -> str | None:
    """None if obj is an acceptable STIX 2.1 object, else one reason naming the property."""
    if not isinstance(obj, dict):
        return f"a STIX object must be a JSON object, not {type(obj).__name__}"
    obj_type = obj.get("type")
    if obj_type is None:
        return "type is missing"
    if not isinstance(obj_type, str) or (
        not (obj_type.__class__ is str and obj_type in _STANDARD_TYPES) and TYPE_RE.match(obj_type) is None
    ):
        return f"type {obj_type!r} is not a valid STIX type (3-250 characters of a-z, 0-9 and '-')"
    obj_id = obj.get("id")
    if obj_id is None:
        return "id is missing"
    if not isinstance(obj_id, str) or (m := ID_RE.match(obj_id)) is None:
        return f"id {obj_id!r} is not a valid STIX identifier"
    if m[1] != obj_type:
        return f"id type '{m[1]}' does not match type '{obj_type}'"
    if obj_id.__class__ is str:
        if len(_KNOWN_IDS) >= _KNOWN_IDS_SIZE:
            _KNOWN_IDS.clear()
        _KNOWN_IDS.add(obj_id)
    is_sco = obj_type in SCO_TYPES
    reason = _check_spec_version(obj, obj_type, is_sco)
    if reason is None:
        reason = _check_properties(obj, obj_type, is_sco, max_depth)
    if reason is None:
        reason = _check_type_rules(obj, obj_type)
    if reason is None and is_sco:
        expected = deterministic_sco_id(obj)
        if expected is not None and expected != obj_id:
            reason = f"id does not match the deterministic UUIDv5 of its contributing properties (expected {expected})"
    return reason


def _remember_id(stix_id: str) -> None:
    if len(_KNOWN_IDS) >= _KNOWN_IDS_SIZE:
        _KNOWN_IDS.clear()
    _KNOWN_IDS.add(stix_id)


def _is_id(value: object) -> bool:
    """True if value is a plain str holding a well-formed STIX identifier."""
    if value.__class__ is not str:
        return False
    if value in _KNOWN_IDS:
        return True
    if ID_RE.match(value) is None:
        return False
    _remember_id(value)
    return True


def _check_spec_version(obj: dict[str, Any], obj_type: str, is_sco: bool) -> str | None:
    version = obj.get("spec_version")
    if version == "2.1":
        return None
    if version is not None:
        return f"spec_version {version!r} is not supported: only STIX 2.1 is accepted"
    # SCOs may omit spec_version; so may custom objects that do not look like 2.0 SDOs.
    if is_sco or (obj_type not in _VERSIONED and obj_type != "marking-definition" and "created" not in obj):
        return None
    return "spec_version is missing (STIX 2.0 content?): only STIX 2.1 is accepted"


def _check_properties(obj: dict[str, Any], obj_type: str, is_sco: bool, max_depth: int) -> str | None:
    """One pass over the properties: timestamps, references, common property types and depth."""
    if obj_type in _VERSIONED:
        for name in ("created", "modified"):
            if name not in obj:
                return f"{name} is required for {obj_type} objects"
    if is_sco and obj_type in _SCO_TIMESTAMPS:
        timestamp_names, kinds = _SCO_TIMESTAMPS[obj_type], _SCO_KINDS[obj_type]
    else:
        timestamp_names, kinds = _TIMESTAMPS, _KINDS
    normalized: dict[str, str] = {}
    # Values checked to be strings (timestamps, references) hold no nesting; only the rest is measured.
    for key, value in obj.items():
        kind = kinds.get(key)
        if kind is None:
            kind = _classify(key, timestamp_names)
            if len(kinds) < _KINDS_SIZE:
                kinds[key] = kind
        if kind == _SKIP:
            continue
        if kind == _TIMESTAMP:
            try:
                normalized[key] = normalize_timestamp(value)
            except ValueError:
                return f"{key} ({value!r}) is not a valid STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)"
        elif kind == _STRING:
            if not isinstance(value, str):
                return f"{key} must be a string"
        elif kind == _REF:
            if not _is_id(value):
                return f"{key} {value!r} is not a STIX identifier"
            if key == "created_by_ref" and not value.startswith("identity--"):
                return f"created_by_ref '{value}' must reference an identity"
        elif kind == _REFS:
            if value.__class__ is not list or not value:
                return f"{key} must be a non-empty list of STIX identifiers"
            for ref in value:
                if not _is_id(ref):
                    return f"{key} contains {ref!r}, which is not a STIX identifier"
                if key == "object_marking_refs" and not ref.startswith(_MARKING_PREFIX):
                    return f"object_marking_refs contains '{ref}', which is not a marking-definition id"
            if max_depth < 1:  # a list of strings is one level deep
                return f"nesting deeper than {max_depth} levels"
        else:
            if kind == _CHECKED and (reason := _PROPERTY_CHECKS[key](value)) is not None:
                return reason
            if value.__class__ in _CONTAINERS and _too_deep(value, max_depth - 1):
                return f"nesting deeper than {max_depth} levels"
    if len(normalized) > 1:  # an ordering needs two timestamps
        return _check_order(obj, obj_type, normalized)
    return None


def _classify(key: str, timestamp_names: frozenset[str]) -> int:
    """Which check a property gets: the same precedence for every object of one timestamp family."""
    if key in timestamp_names:
        return _TIMESTAMP
    if key[-4:] == "_ref":
        return _REF
    if key[-5:] == "_refs":
        return _REFS
    if key in _STRING_PROPS:
        return _STRING
    return _CHECKED if key in _PROPERTY_CHECKS else _OTHER


def _check_order(obj: dict[str, Any], obj_type: str, normalized: dict[str, str]) -> str | None:
    get = normalized.get
    for earlier, later in _ORDERINGS:
        # Canonical timestamps of 4-digit years order correctly as strings.
        if (second := get(later)) is not None and (first := get(earlier)) is not None and second < first:
            return f"{later} ({obj[later]}) is earlier than {earlier} ({obj[earlier]})"
    if obj_type == "indicator" and (end := get("valid_until")) is not None:
        start = get("valid_from")
        if start is not None and end <= start:
            return f"valid_until ({obj['valid_until']}) must be later than valid_from ({obj['valid_from']})"
    return None


def _check_revoked(value: object) -> str | None:
    return None if isinstance(value, bool) else "revoked must be true or false"


def _check_confidence(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
        return None
    return f"confidence ({value!r}) must be an integer from 0 to 100"


def _check_labels(value: object) -> str | None:
    reason = "labels must be a non-empty list of non-empty strings"
    if not isinstance(value, list) or not value:
        return reason
    for label in value:
        if not isinstance(label, str) or not label:
            return reason
    return None


def _check_external_references(refs: object) -> str | None:
    if not isinstance(refs, list) or not refs:
        return "external_references must be a non-empty list of objects"
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            return f"external_references[{i}] must be an object"
        if not isinstance(ref.get("source_name"), str) or not ref["source_name"]:
            return f"external_references[{i}].source_name is required and must be a string"
        if not any(k in ref for k in ("description", "url", "external_id")):
            return f"external_references[{i}] needs at least one of description, url, external_id"
        hashes = ref.get("hashes")
        if hashes is not None and not isinstance(hashes, dict):
            return f"external_references[{i}].hashes must be an object"
    return None


def _check_granular(granular: object) -> str | None:
    if not isinstance(granular, list) or not granular:
        return "granular_markings must be a non-empty list of objects"
    for i, marking in enumerate(granular):
        if not isinstance(marking, dict):
            return f"granular_markings[{i}] must be an object"
        selectors = marking.get("selectors")
        if not isinstance(selectors, list) or not selectors or not all(isinstance(s, str) for s in selectors):
            return f"granular_markings[{i}].selectors must be a non-empty list of strings"
        ref = marking.get("marking_ref")
        if ref is None:
            if not isinstance(marking.get("lang"), str):
                return f"granular_markings[{i}] needs marking_ref or lang"
        elif not isinstance(ref, str) or ID_RE.match(ref) is None or not ref.startswith(_MARKING_PREFIX):
            return f"granular_markings[{i}].marking_ref {ref!r} is not a marking-definition id"
    return None


def _check_type_rules(obj: dict[str, Any], obj_type: str) -> str | None:
    for name in _REQUIRED.get(obj_type, ()):
        if name not in obj:
            return f"{name} is required for {obj_type} objects"
    if obj_type == "indicator":
        if obj["pattern_type"] == "stix":
            why = check_pattern(obj["pattern"])
            if why is not None:
                return f"pattern is invalid: {why}"
    elif obj_type == "malware":
        if not isinstance(obj["is_family"], bool):
            return "is_family must be true or false"
        if obj["is_family"] and "name" not in obj:
            return "name is required for malware objects where is_family is true"
    elif obj_type == "marking-definition":
        if "extensions" not in obj and not ("definition_type" in obj and "definition" in obj):
            return "a marking-definition needs definition_type and definition, or extensions"
        if "definition" in obj and not isinstance(obj["definition"], dict):
            return "definition must be an object"
    elif obj_type == "observed-data":
        count = obj["number_observed"]
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 999_999_999:
            return "number_observed must be an integer from 1 to 999,999,999"
        if "object_refs" not in obj and "objects" not in obj:
            return "object_refs is required for observed-data objects"
    elif obj_type == "location":
        if not any(k in obj for k in ("region", "country", "latitude")):
            return "a location needs region, country, or latitude and longitude"
        if ("latitude" in obj) != ("longitude" in obj):
            return "latitude and longitude must be given together"
    elif obj_type == "malware-analysis" and "result" not in obj and "analysis_sco_refs" not in obj:
        return "a malware-analysis needs result or analysis_sco_refs"
    return None


def _too_deep(value: object, remaining: int) -> bool:
    if remaining < 0:
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:  # noqa: SIM110 - a plain loop skips any()'s generator frame on a hot path
        if isinstance(item, _CONTAINERS) and _too_deep(item, remaining - 1):
            return True
    return False


def is_versioned(obj: Mapping[str, Any]) -> bool:
    """True for objects versioned by `modified` (SDOs, SROs, custom objects with modified), not SCOs."""
    obj_type = obj.get("type")
    return obj_type not in SCO_TYPES and isinstance(obj.get("modified"), str)


def object_version(obj: Mapping[str, Any]) -> str:
    """The normalized modified timestamp, else created, else ''."""
    for name in ("modified", "created"):
        value = obj.get(name)
        if isinstance(value, str):
            try:
                return normalize_timestamp(value)
            except ValueError:
                return ""
    return ""


_PROPERTY_CHECKS: dict[str, Callable[[object], str | None]] = {
    "revoked": _check_revoked,
    "confidence": _check_confidence,
    "labels": _check_labels,
    "external_references": _check_external_references,
    "granular_markings": _check_granular,
}
