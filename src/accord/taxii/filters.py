"""TAXII query parameters: parsing, validation (bad ones -> 400) and a canonical form for next tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from accord.core.errors import BadRequest
from accord.stix.timestamps import normalize_timestamp, timestamp_to_micros


class Endpoint(StrEnum):
    """Which TAXII endpoint a query is for (each accepts its own parameters)."""

    OBJECTS = "objects"
    MANIFEST = "manifest"
    OBJECT = "object"
    VERSIONS = "versions"
    DELETE = "delete"


_PAGED = {"added_after", "limit", "next"}
ALLOWED: dict[Endpoint, frozenset[str]] = {
    Endpoint.OBJECTS: frozenset(_PAGED | {"match[id]", "match[type]", "match[version]", "match[spec_version]"}),
    Endpoint.MANIFEST: frozenset(_PAGED | {"match[id]", "match[type]", "match[version]", "match[spec_version]"}),
    Endpoint.OBJECT: frozenset(_PAGED | {"match[version]", "match[spec_version]"}),
    Endpoint.VERSIONS: frozenset(_PAGED | {"match[spec_version]"}),
    Endpoint.DELETE: frozenset({"match[version]", "match[spec_version]"}),
}
VERSION_KEYWORDS = ("first", "last", "all")
_SPEC_RE = re.compile(r"[0-9]+\.[0-9]+\Z")
_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,249}\Z")


@dataclass(frozen=True, slots=True)
class Filters:
    """A validated query: every list sorted and de-duplicated so equal queries compare equal."""

    added_after_us: int | None = None
    limit: int | None = None
    next_token: str | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)  # keywords and/or normalised timestamps
    spec_versions: tuple[str, ...] = ()

    def canonical(self) -> list[object]:
        """What a next token is bound to: the filters (not the page position or size)."""
        return [list(self.ids), list(self.types), list(self.versions), list(self.spec_versions)]

    @property
    def all_versions(self) -> bool:
        """match[version]=all (alone or combined: it wins)."""
        return "all" in self.versions


def _split(name: str, value: str) -> tuple[str, ...]:
    parts = [p.strip() for p in value.split(",")]
    if not value.strip() or any(not p for p in parts):
        raise BadRequest(f"{name} must be a comma-separated list of non-empty values")
    return tuple(sorted(set(parts)))


def _version_values(value: str) -> tuple[str, ...]:
    out: set[str] = set()
    for part in _split("match[version]", value):
        if part in VERSION_KEYWORDS:
            out.add(part)
            continue
        try:
            out.add(normalize_timestamp(part))
        except ValueError:
            raise BadRequest(f"match[version]: {part!r} is neither first, last, all nor a timestamp") from None
    if "all" in out:
        return ("all",)
    return tuple(sorted(out))


def _limit(value: str) -> int:
    if not value.strip().isdigit():
        raise BadRequest("limit must be a positive integer")
    limit = int(value)
    if limit <= 0:
        raise BadRequest("limit must be a positive integer")
    return limit


def parse_filters(items: Iterable[tuple[str, str]], endpoint: Endpoint) -> Filters:
    """Validate the query parameters of one request for one endpoint."""
    allowed = ALLOWED[endpoint]
    seen: dict[str, str] = {}
    for key, value in items:
        if key in seen:
            raise BadRequest(f"query parameter {key} is given more than once")
        if key not in allowed:
            if key in _PAGED or key.startswith("match["):
                raise BadRequest(f"query parameter {key} is not supported on this endpoint")
            continue  # unknown, non-TAXII parameters are ignored
        seen[key] = value
    added_after = None
    if "added_after" in seen:
        try:
            added_after = timestamp_to_micros(seen["added_after"].strip())
        except ValueError:
            raise BadRequest("added_after must be a timestamp like 2026-01-01T00:00:00.000000Z") from None
    types = _split("match[type]", seen["match[type]"]) if "match[type]" in seen else ()
    for t in types:
        if not _TYPE_RE.match(t):
            raise BadRequest(f"match[type]: {t!r} is not a STIX type name")
    spec = _split("match[spec_version]", seen["match[spec_version]"]) if "match[spec_version]" in seen else ()
    for s in spec:
        if not _SPEC_RE.match(s):
            raise BadRequest(f"match[spec_version]: {s!r} is not a version like 2.1")
    default_version = ("all",) if endpoint in (Endpoint.DELETE, Endpoint.VERSIONS) else ("last",)
    next_token = seen.get("next")
    if next_token is not None and not next_token.strip():
        raise BadRequest("next must not be empty")
    return Filters(
        added_after_us=added_after,
        limit=_limit(seen["limit"]) if "limit" in seen else None,
        next_token=next_token,
        ids=_split("match[id]", seen["match[id]"]) if "match[id]" in seen else (),
        types=types,
        versions=_version_values(seen["match[version]"]) if "match[version]" in seen else default_version,
        spec_versions=spec,
    )
