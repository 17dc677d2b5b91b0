"""What pages show of STIX content: display rows of properties, links to referenced objects, version diffs.

Everything here returns plain data; the templates escape every string (no markup is built from STIX text).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from accord.stix.markings import tlp_of

REF = re.compile(r"^[a-z0-9][a-z0-9-]*--[0-9a-fA-F-]{36}$")
SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)
TITLE_KEYS = ("name", "value", "pattern", "path", "key", "number", "body", "id")


@dataclass(frozen=True)
class Cell:
    """One property value as shown: text, a link to another object, an external http(s) link, or a block."""

    text: str
    ref: str | None = None
    url: str | None = None
    block: bool = False


def title_of(obj: dict[str, Any]) -> str:
    """A short human name for an object."""
    for key in TITLE_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value if len(value) <= 120 else value[:117] + "…"
    return str(obj.get("id", "?"))


def tlp_label(obj: dict[str, Any]) -> str:
    """The object's TLP label, or 'unmarked'."""
    level = tlp_of(obj)
    return level.label if level is not None else "unmarked"


def cells(value: Any) -> list[Cell]:
    """How one property value is shown."""
    if isinstance(value, str):
        if REF.match(value):
            return [Cell(value, ref=value)]
        if SAFE_URL.match(value):
            return [Cell(value, url=value)]
        return [Cell(value, block="\n" in value or len(value) > 160)]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [c for v in value for c in cells(v)]
    if isinstance(value, (dict, list)):
        return [Cell(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode(), block=True)]
    return [Cell(orjson.dumps(value).decode())]


def property_rows(obj: dict[str, Any]) -> list[tuple[str, list[Cell]]]:
    """Every property of an object, in its stored order."""
    return [(key, cells(value)) for key, value in obj.items()]


def pretty(obj: Any) -> str:
    """Indented JSON text."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class VersionDiff:
    """One version and the lines changed since the previous one ('+', '-' or ' ' then the text)."""

    version: str
    lines: list[tuple[str, str]]


def version_diffs(bodies: list[tuple[str, bytes]]) -> list[VersionDiff]:
    """Each readable version, newest first, with a line diff of its JSON against the version before it."""
    out: list[VersionDiff] = []
    before: list[str] = []
    for version, raw in bodies:
        now = pretty(orjson.loads(raw)).splitlines()
        lines: list[tuple[str, str]] = []
        if before:
            for line in difflib.unified_diff(before, now, lineterm="", n=1):
                if line.startswith(("---", "+++", "@@")):
                    continue
                lines.append((line[:1], line[1:]))
        out.append(VersionDiff(version, lines))
        before = now
    return out[::-1]
