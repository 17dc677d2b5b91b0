"""Plain blocklists (one value a line, per kind) and CSV (RFC 4180, chosen columns)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from accord.exports.source import Item
from accord.stix.markings import Tlp
from accord.stix.timestamps import micros_to_timestamp

BLOCKLIST_KINDS = ("ip", "cidr", "domain", "url", "md5", "sha1", "sha256")
CSV_COLUMNS = (
    "value",
    "type",
    "first_seen",
    "last_seen",
    "score",
    "tlp",
    "owner",
    "labels",
    "source_report",
    "indicator",
    "active",
    "warninglists",
    "id",
)
CSV_DEFAULT = CSV_COLUMNS[:9]


def blocklist(batches: Iterable[list[str]]) -> Iterator[bytes]:
    """The values of the batches (accord.exports.active.values), one a line, each once."""
    seen: set[int] = set()  # hashes, not values: a million values in a few tens of MB (bench_exports)
    for batch in batches:
        lines = [value for value in dict.fromkeys(batch) if hash(value) not in seen]
        seen.update(map(hash, lines))
        if lines:
            yield ("\n".join(lines) + "\n").encode()


def parse_columns(text: str | None) -> tuple[str, ...]:
    """Validated CSV column names from 'value,type,...' (the default set when empty)."""
    if not text:
        return CSV_DEFAULT
    cols = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in cols if c not in CSV_COLUMNS]
    if unknown or not cols:
        raise ValueError(
            f"unknown CSV column {unknown[0] if unknown else text!r}; choose from {', '.join(CSV_COLUMNS)}"
        )
    return cols


def _tlp_name(tlp: Tlp | None, default: Tlp) -> str:
    return (default if tlp is None else tlp).label


def _first_seen(item: Item) -> str:
    for name in ("first_seen", "valid_from", "created"):
        value = item.obj.get(name)
        if isinstance(value, str):
            return value
    return ""


def _last_seen(item: Item) -> str:
    if item.last_sighting_us:
        return micros_to_timestamp(item.last_sighting_us)
    for name in ("last_seen", "modified", "created"):
        value = item.obj.get(name)
        if isinstance(value, str):
            return value
    return ""


def csv_rows(
    pages: Iterable[list[Item]], columns: tuple[str, ...], owners: dict[int, str], default_tlp: Tlp
) -> Iterator[bytes]:
    """RFC 4180 CSV (CRLF line ends, a header row) of every exported value, one row per value and object."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    yield buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    for page in pages:
        for item in page:
            labels = item.obj.get("labels")
            shared = {
                "first_seen": _first_seen(item),
                "last_seen": _last_seen(item),
                "tlp": _tlp_name(item.tlp, default_tlp),
                "owner": owners.get(item.owner_org_id, ""),
                "labels": ";".join(x for x in labels if isinstance(x, str)) if isinstance(labels, list) else "",
                "source_report": ";".join(item.reports),
                "indicator": "true" if item.indicator else "false",
                "id": item.id,
            }
            for v in item.values:
                cells = {
                    **shared,
                    "value": v.value,
                    "type": v.kind,
                    "score": f"{v.score:.1f}" if item.indicator else "",
                    "active": "true" if v.active else "false",
                    "warninglists": ";".join(v.listed),
                }
                writer.writerow([cells[c] for c in columns])
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
