"""Warninglist flags on exported objects: which of an object's values are on the active warninglists.

Exports choose what to do with objects holding such values (``accord export --warninglists``):
- ``report`` (default): bodies are written exactly as stored; the flagged objects are counted and named
  on the side (re-importing the bundle anywhere never meets a changed body under a known version);
- ``mark``: each flagged object's exported copy carries ``x_accord_warninglists``, a list of
  ``{"kind", "value", "warninglists"}`` (a STIX 2.1 custom property; the stored object is unchanged);
- ``omit``: flagged objects are left out (a blocklist never carries known-benign values).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from accord.correlate.indexer import listed_values
from accord.correlate.values import values_of
from accord.correlate.warninglists import WarninglistMatcher

MODES = ("report", "mark", "omit")
PROPERTY = "x_accord_warninglists"
_EXAMPLES = 10


def object_flags(obj: dict[str, Any], wl: WarninglistMatcher) -> list[dict[str, Any]]:
    """The object's values on active warninglists, with the lists' names: exactly what ingest flagged."""
    listed = listed_values(values_of(obj), wl)
    return [{"kind": kind, "value": value, "warninglists": list(names)} for kind, value, names in listed]


@dataclass(slots=True)
class FlagTally:
    """How many exported objects were flagged (and which, first few), and how many were omitted."""

    flagged: int = 0
    omitted: int = 0
    examples: list[str] = field(default_factory=list)


def flag_export(chunks: Iterator[bytes], mode: str, wl: WarninglistMatcher, tally: FlagTally) -> Iterator[bytes]:
    """The raw objects of an export with warninglist flags applied per `mode` (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"unknown warninglist mode {mode!r}; choose one of {', '.join(MODES)}")
    for raw in chunks:
        obj = orjson.loads(raw)
        flags = object_flags(obj, wl)
        if not flags:
            yield raw
            continue
        tally.flagged += 1
        if len(tally.examples) < _EXAMPLES:
            shown = "; ".join(f"{f['value']} ({', '.join(f['warninglists'])})" for f in flags[:3])
            tally.examples.append(f"{obj.get('id')}: {shown}")
        if mode == "omit":
            tally.omitted += 1
        elif mode == "mark":
            yield orjson.dumps({**obj, PROPERTY: flags})
        else:
            yield raw
