"""Refang defanged indicators in one regex pass, keeping a map back to the original offsets."""

from __future__ import annotations

import re
from bisect import bisect_right

# Bracketed separators: [.] (.) {.} [dot] (dot) [:] [://] [/] [@] [at] (at) and the like. One pattern per
# bracket kind, so each starts with a literal and the scanner skips prose at memchr speed.
_BRACKETED = (
    re.compile(r"\[ ?(?P<sep>\.|dot|:|://|//|/|@|at) ?\]", re.IGNORECASE),
    re.compile(r"\( ?(?P<sep>\.|dot|:|@|at) ?\)", re.IGNORECASE),
    re.compile(r"\{ ?(?P<sep>\.|dot|@|at) ?\}", re.IGNORECASE),
)
_SCHEME = re.compile(rb"hxxp(s?)(?=\[?:|\(:|://)")  # on lower-cased bytes
_SPELLED_LEFT = re.compile(r"[A-Za-z0-9-]{1,63}\Z")  # searched up to the " dot ", so \Z is its start
_SPELLED_RIGHT = re.compile(r"[A-Za-z0-9-]{1,63}")
# "the dot com era" is prose, not an indicator.
_PROSE_WORDS = frozenset(
    """the a an of and or to is in on at by for with that this it as its was be red""".split()  # noqa: SIM905 - a word list reads better as text
)
_SEP_VALUE = {".": ".", "dot": ".", ":": ":", "://": "://", "//": "//", "/": "/", "@": "@", "at": "@"}


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

    def end(self, pos: int) -> int:
        """Original offset of an end position (exclusive)."""
        i = bisect_right(self._new_starts, pos - 1) - 1
        if i < 0:
            return pos
        ns, ne, os_, oe = self._spans[i]
        if pos <= ne:
            return oe if pos > ns else os_
        return pos - ne + oe


def _bracket_edit(text: str, m: re.Match[str]) -> tuple[int, int, str] | None:
    sep = m.group("sep").lower()
    start, end = m.start(), m.end()
    n = len(text)
    if sep in ("at", "dot", "@", "."):
        # "(at)" or "(.)" only between address characters, so prose in brackets stays prose.
        left = text[start - 1] if start else ""
        if left == " " and start > 1:
            left = text[start - 2]
        right = text[end] if end < n else ""
        if right == " " and end + 1 < n:
            right = text[end + 1]
        if not (left and right and _label_char(left) and _label_char(right)):
            return None
    # Swallow one space either side of a bracketed separator ("evil [.] com").
    if start > 1 and text[start - 1] == " " and _label_char(text[start - 2]):
        start -= 1
    if end + 1 < n and text[end] == " " and _label_char(text[end + 1]):
        end += 1
    return start, end, _SEP_VALUE[sep]


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
    edits: list[tuple[int, int, str]] = []
    for pattern in _BRACKETED:
        for m in pattern.finditer(text):
            edit = _bracket_edit(text, m)
            if edit is not None:
                edits.append(edit)
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
    byte_parts: list[bytes] = []
    spans: list[tuple[int, int, int, int]] = []
    last = 0
    new_len = 0
    for start, end, rep in edits:
        if start < last:  # overlapping edits: keep the first
            continue
        parts.append(text[last:start])
        parts.append(rep)
        byte_parts.append(ascii_text[last:start])
        byte_parts.append(rep.encode("ascii"))
        new_len += start - last
        spans.append((new_len, new_len + len(rep), start, end))
        new_len += len(rep)
        last = end
    parts.append(text[last:])
    byte_parts.append(ascii_text[last:])
    return "".join(parts), b"".join(byte_parts), OffsetMap(spans)


def refang(text: str) -> tuple[str, OffsetMap]:
    """Return the text with defanged separators restored, and the offset map back to the original."""
    fanged, _, offsets = refang_ascii(text)
    return fanged, offsets
