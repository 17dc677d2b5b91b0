"""Imports of the export formats that carry content back: MISP event JSON and CSV values with a column mapping.

Both reuse the MISP feed reader's conversion (accord.feeds.misp, accord.feeds.misp_types) and the CSV feed's
parser and value objects (accord.feeds.parse, accord.feeds.values), so a value imported from a file becomes
exactly what the same value pulled from a feed becomes. What is imported is the importer's own content: the
MISP creator's identity is not named as its creator (W1: only a peer link brings another org's content).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from accord.core.clock import now_us
from accord.core.errors import BadRequest
from accord.feeds.errors import FeedError
from accord.feeds.misp import event_objects
from accord.feeds.parse import parse_csv
from accord.feeds.values import item_object
from accord.stix.markings import Tlp
from accord.stix.timestamps import micros_to_timestamp

_EVENT_KEY = b'"Event"'
_ESCAPE = b"\\u"


def misp_events(doc: Any) -> list[Any] | None:
    """The MISP event documents of a parsed JSON file ({"Event"}, {"response": [...]}, a list), or None."""
    if isinstance(doc, dict) and isinstance(doc.get("Event"), dict):
        return [doc]
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        doc = doc["response"]
    if isinstance(doc, list) and doc and all(isinstance(d, dict) and isinstance(d.get("Event"), dict) for d in doc):
        return doc
    return None


def misp_objects(events: list[Any], name: str, tlp: Tlp | None) -> list[dict[str, Any]]:
    """The STIX objects of MISP events (the feed reader's conversion), owned by whoever imports them."""
    out: list[dict[str, Any]] = []
    for n, doc in enumerate(events, 1):
        try:
            _creator, objects = event_objects(doc, tlp)
        except FeedError as exc:
            raise BadRequest(f"{name}: event {n}: {exc}") from None
        for obj in objects:
            obj.pop("created_by_ref", None)
        out += objects
    return out


def sniff_misp(path: Path) -> list[Any] | None:
    """The MISP events of a .json file, or None when it is something else (a STIX bundle, not JSON, ...)."""
    if not path.name.endswith(".json"):
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    # Every MISP layout has an "Event" key, which JSON text spells as is or with \u escapes: text with neither
    # is something else, and a STIX bundle (most imports) is not parsed here before the store reads it.
    if _EVENT_KEY not in data and _ESCAPE not in data:
        return None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return misp_events(doc)


def csv_objects(
    body: bytes,
    name: str,
    *,
    columns: str | None,
    delimiter: str,
    skip_header: bool,
    item_type: str | None,
    tlp: Tlp | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Indicators for the values of a CSV file (mapping e.g. 'value=2,type=1,comment=3'), and the skipped lines."""
    try:
        parsed = parse_csv(body, name, columns, delimiter, skip_header, item_type)
    except (FeedError, ValueError) as exc:
        raise BadRequest(f"{name}: {exc}") from None
    seen = micros_to_timestamp(now_us())
    source = f"import:{Path(name).name}"
    objects = [obj for item in parsed.items if (obj := item_object(item, source, seen, tlp)) is not None]
    return objects, parsed.reasons
