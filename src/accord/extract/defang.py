"""Refang defanged indicators in one regex pass, keeping a map back to the original offsets."""

from __future__ import annotations

import re
from bisect import bisect_right

# Bracketed separators: [.] (.) {.} [dot] (dot) [:] [://] [/] [@] [at] (at) and the like. One pattern per
# bracket kind, each starting with a literal and case-sensitive outside its words, so the scanner skips prose at
# memchr speed (one pattern with three branches scans at a third of the speed: bench_extract.py, dense text).
_BRACKETED = (
    re.compile(r"\[ ?(\.|(?i:dot)|://|//|:|/|@|(?i:at)) ?\]"),
    re.compile(r"\( ?(\.|(?i:dot)|:|@|(?i:at)) ?\)"),
    re.compile(r"\{ ?(\.|(?i:dot)|@|(?i:at)) ?\}"),
)
_SCHEME = re.compile(rb"hxxp(s?)(?=\[?:|\(:|://)")  # on lower-cased bytes
_SPELLED_LEFT = re.compile(r"[A-Za-z0-9-]{1,63}\Z")  # searched up to the " dot ", so \Z is its start
_SPELLED_RIGHT = re.compile(r"[A-Za-z0-9-]{1,63}")
# "the dot com era" is prose, not an indicator.
_PROSE_WORDS = frozenset(
    """the a an of and or to is in on at by for with that this it as its was be red""".split()  # noqa: SIM905 - a word list reads better as text
)
_NEEDS_LABELS = frozenset({"at", "dot", "@", "."})
_SEP_VALUE = {".": ".", "dot": ".", ":": ":", "://": "://", "//": "//", "/": "/", "@": "@", "at": "@"}


# The ASCII label characters, tested by set membership before the general (Unicode) test.
_ASCII_LABEL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _label_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


class OffsetMap:
    """Maps offsets in refanged text back to the original text."""

    __slots__ = ("_new_starts", "_spans")

    def __init__(self, spans: list[tuple[int, int, int, int]]) -> None:
        # spans: (new_start, new_end, orig_start, orig_end) of each replacement, in order.
        self._spans = spans
        self._new_starts = [s[0] for s in spans]

    def start(self, pos: int) -> int:
        """Original offset of a start position."""
        i = bisect_right(self._new_starts, pos) - 1
        if i < 0:
            return pos
        _, ne, os_, oe = self._spans[i]
        if pos < ne:
            return os_
        return pos - ne + oe

    def original_spans(self, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Original (start, end) of each (start, end); one call for many spans, as start() and end() would."""
        if not self._spans:
            return spans
        new_starts, edits = self._new_starts, self._spans
        out = []
        for new_start, new_end in spans:
            start, end = new_start, new_end
            i = bisect_right(new_starts, new_start) - 1
            if i >= 0:
                _, ne, os_, oe = edits[i]
                start = os_ if new_start < ne else new_start - ne + oe
            i = bisect_right(new_starts, new_end - 1) - 1
            if i >= 0:
                ns, ne, os_, oe = edits[i]
                end = (oe if new_end > ns else os_) if new_end <= ne else new_end - ne + oe
            out.append((start, end))
        return out

    def end(self, pos: int) -> int:
        """Original offset of an end position (exclusive)."""
        i = bisect_right(self._new_starts, pos - 1) - 1
        if i < 0:
            return pos
        ns, ne, os_, oe = self._spans[i]
        if pos <= ne:
            return oe if pos > ns else os_
        return pos - ne + oe


def _bracket_edits(text: str) -> list[tuple[int, int, str]]:
    edits = []
    n = len(text)
    labels = _ASCII_LABEL
    for m in (m for pattern in _BRACKETED for m in pattern.finditer(text)):
        start, end = m.span()
        sep = m[1].lower()
        before = text[start - 1] if start else ""
        after = text[end] if end < n else ""
        # One space either side of a bracketed separator is swallowed ("evil [.] com") when a label is beyond it.
        space_left = before == " " and start > 1 and _label_char(text[start - 2])
        space_right = after == " " and end + 1 < n and _label_char(text[end + 1])
        # "(at)" or "(.)" only between address characters, so prose in brackets stays prose.
        if sep in _NEEDS_LABELS and not (
            (space_left or before in labels or (before and _label_char(before)))
            and (space_right or after in labels or (after and _label_char(after)))
        ):
            continue
        edits.append((start - space_left, end + space_right, _SEP_VALUE[sep]))
    return edits


def _spelled_edits(text: str, lowered: bytes) -> list[tuple[int, int, str]]:
    edits = []
    pos = lowered.find(b" dot ")
    while pos >= 0:
        # The label left of " dot ": the last word run in the 63 characters before it.
        left = _SPELLED_LEFT.search(text, max(0, pos - 63), pos)
        right = _SPELLED_RIGHT.match(text, pos + 5)
        if left and right and left.group().lower() not in _PROSE_WORDS and right.group().lower() not in _PROSE_WORDS:
            edits.append((pos, pos + 5, "."))
        pos = lowered.find(b" dot ", pos + 4)
    return edits


def _edits(text: str, lowered: bytes) -> list[tuple[int, int, str]]:
    edits = _bracket_edits(text)
    edits.extend(
        (m.start(), m.end(), "https" if m.group(1) else "http")
        for m in _SCHEME.finditer(lowered)
        if m.start() == 0 or not text[m.start() - 1].isalpha()
    )
    edits.extend(_spelled_edits(text, lowered))
    edits.sort()
    return edits


def refang_ascii(text: str) -> tuple[str, bytes, OffsetMap]:
    """Refanged text, the same as ASCII bytes ('?' for each other character) and the offset map."""
    ascii_text = text.encode("ascii", "replace")
    edits = _edits(text, ascii_text.lower())
    if not edits:
        return text, ascii_text, OffsetMap([])
    parts: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    last = 0
    shift = 0  # new offset - original offset, before the current edit
    for start, end, rep in edits:
        if start < last:  # overlapping edits: keep the first
            continue
        parts.append(text[last:start])
        parts.append(rep)
        new_start = start + shift
        spans.append((new_start, new_start + len(rep), start, end))
        shift += len(rep) - (end - start)
        last = end
    parts.append(text[last:])
    fanged = "".join(parts)
    # "replace" writes one '?' per character, so the bytes keep the offsets of the text.
    return fanged, fanged.encode("ascii", "replace"), OffsetMap(spans)


def refang(text: str) -> tuple[str, OffsetMap]:
    """Return the text with defanged separators restored, and the offset map back to the original."""
    fanged, _, offsets = refang_ascii(text)
    return fanged, offsets
