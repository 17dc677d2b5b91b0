"""Parsers of plain feeds: one-value-per-line text lists and CSV files with a column mapping."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from accord.feeds.errors import FeedError
from accord.feeds.values import TYPE_ALIASES, Item, kind_for, to_item

MAX_SKIPPED_REASONS = 10
_COLUMN_NAMES = ("value", "type", "comment")


@dataclass(slots=True)
class Parsed:
    """The recognised items of a feed and the lines that were not."""

    items: list[Item] = field(default_factory=list)
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)

    def skip(self, line_no: int, text: str, why: str) -> None:
        """Count an unusable line, keeping the first few reasons."""
        self.skipped += 1
        if len(self.reasons) < MAX_SKIPPED_REASONS:
            self.reasons.append(f"line {line_no}: {why}: {text[:80]!r}")


def decode(body: bytes, name: str) -> str:
    """The body as text; FeedError for binary content."""
    if b"\x00" in body[:65536]:
        raise FeedError(f"{name}: binary content, not a text feed")
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _check_items(parsed: Parsed, name: str) -> Parsed:
    if not parsed.items and parsed.skipped:
        raise FeedError(f"{name}: invalid content, no value recognised ({parsed.reasons[0]})")
    return parsed


def parse_text(body: bytes, name: str, item_type: str | None) -> Parsed:
    """Items of a one-value-per-line list ('#' comments and blank lines ignored; text after ' #' is a comment)."""
    text = decode(body, name)
    kind = kind_for(item_type) if item_type else None
    if text.lstrip()[:1] in ("<", "{", "["):
        raise FeedError(f"{name}: invalid content, this looks like HTML or JSON, not a list of values")
    parsed = Parsed()
    for line_no, line in enumerate(text.splitlines(), 1):
        raw = line.strip()
        if not raw or raw.startswith(("#", ";", "//")):
            continue
        value, _, comment = raw.partition(" #")
        item = to_item(kind, value.strip(), comment.strip())
        if item is None:
            parsed.skip(line_no, raw, "not a recognisable value" if kind is None else f"not a valid {item_type}")
        else:
            parsed.items.append(item)
    return _check_items(parsed, name)


def parse_columns(spec: str) -> dict[str, int]:
    """'value=2,type=1,comment=3' (1-based) -> {'value': 1, 'type': 0, 'comment': 2}; ValueError if malformed."""
    out: dict[str, int] = {}
    for part in spec.split(","):
        key, sep, num = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in _COLUMN_NAMES or not num.strip().isdigit() or int(num) < 1:
            raise ValueError(f"bad column mapping {part.strip()!r}: use e.g. 'value=2,type=1,comment=3' (1-based)")
        out[key] = int(num) - 1
    if "value" not in out:
        raise ValueError("the column mapping must name the value column, e.g. 'value=1'")
    return out


def _row_kind(type_cell: str | None, default: str | None) -> tuple[str | None, bool]:
    """(kind, known) for a row: its type column when it names a known type, else the feed's type."""
    if type_cell:
        kind = TYPE_ALIASES.get(type_cell.strip().lower())
        if kind is not None:
            return kind, True
    return default, default is not None or not type_cell


def parse_csv(
    body: bytes, name: str, columns: str | None, delimiter: str, skip_header: bool, item_type: str | None
) -> Parsed:
    """Items of a CSV feed using the column mapping (default: the value in the first column)."""
    text = decode(body, name)
    mapping = parse_columns(columns or "value=1")
    default = kind_for(item_type) if item_type else None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter or ",")
    parsed = Parsed()
    try:
        for line_no, row in enumerate(reader, 1):
            if skip_header and line_no == 1:
                continue
            cells = [c.strip() for c in row]
            if mapping["value"] >= len(cells):
                parsed.skip(line_no, delimiter.join(row), f"no column {mapping['value'] + 1}")
                continue
            type_cell = cells[mapping["type"]] if "type" in mapping and mapping["type"] < len(cells) else None
            kind, _known = _row_kind(type_cell, default)
            comment = cells[mapping["comment"]] if "comment" in mapping and mapping["comment"] < len(cells) else ""
            item = to_item(kind, cells[mapping["value"]], comment)
            if item is None:
                parsed.skip(line_no, cells[mapping["value"]], "not a recognisable value")
            else:
                parsed.items.append(item)
    except csv.Error as exc:
        raise FeedError(f"{name}: invalid CSV ({exc})") from None
    return _check_items(parsed, name)
