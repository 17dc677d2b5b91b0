"""Refang defanged indicators in a few regex passes, keeping a map back to the original offsets."""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate, chain
from operator import add, gt, itemgetter, neg, sub

_LABEL = r"[\w-]"  # one label character: \w is str.isalnum() or "_"
_DOT = (r"\.|(?i:dot)", ".")
_AT = (r"@|(?i:at)", "@")
# Bracketed separators: [.] (.) {.} [dot] (dot) [:] [://] [/] [@] [at] (at) and the like. One pattern per
# bracket kind, each starting with a literal, so the scanner skips prose at memchr speed (one pattern with three
# branches scans at a third of the speed: bench_extract.py, dense text).
_KINDS = (
    ("[", "]", (_DOT, _AT, ("://", "://"), ("//", "//"), (":", ":"), ("/", "/"))),
    ("(", ")", (_DOT, _AT, (":", ":"))),
    ("{", "}", (_DOT, _AT)),
)


def _bracketed(opening: str, closing: str, separators: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """The pattern of one bracket kind, whose matches are exactly the accepted edits.

    One space either side is swallowed ("evil [.] com") when a label character is beyond it; "." and "@" ("dot",
    "at") need a label character or such a space on both sides, so prose in brackets stays prose. The rules are
    look-arounds after the opening bracket, so only accepted edits reach Python (bench_extract.py, dense text).
    Each separator is two groups, the match starting at the bracket or one swallowed space before it: the
    number of the group that matched gives the edit (_GROUPS).
    """
    o, c = re.escape(opening), re.escape(closing)
    alternatives = []
    for separator, rep in separators:
        needs_labels = rep in (".", "@")
        right = rf"(?: ?(?={_LABEL}))" if needs_labels else rf"(?: (?={_LABEL}))?"
        bracket_first = rf"(?<!{_LABEL} {o})" + (rf"(?<={_LABEL}{o})" if needs_labels else "")
        space_first = rf"(?<={_LABEL} {o})"
        alternatives += [f"({left} ?(?:{separator}) ?{c}{right})" for left in (bracket_first, space_first)]
    return re.compile(o + "(?:" + "|".join(alternatives) + ")")


_BRACKETED = tuple(_bracketed(*kind) for kind in _KINDS)
# Per pattern, by group number: (1 if the edit starts at the space before the match's bracket, replacement).
_GROUPS = tuple(((0, ""), *((space, rep) for _, rep in separators for space in (0, 1))) for _, _, separators in _KINDS)
_SCHEME = re.compile(rb"hxxp(s?)(?=\[?:|\(:|://)")  # on lower-cased bytes
_SPELLED_LEFT = re.compile(r"[A-Za-z0-9-]{1,63}\Z")  # searched up to the " dot ", so \Z is its start
_SPELLED_RIGHT = re.compile(r"[A-Za-z0-9-]{1,63}")
# "the dot com era" is prose, not an indicator.
_PROSE_WORDS = frozenset(
    """the a an of and or to is in on at by for with that this it as its was be red""".split()  # noqa: SIM905 - a word list reads better as text
)
_FAR = 1 << 62  # past any offset: the maps' sentinel
_EDIT_START = itemgetter(0)
_EDIT_END = itemgetter(1)
_EDIT_REP = itemgetter(2)


class OffsetMap:
    """Maps offsets in refanged text back to the original text."""

    __slots__ = ("_back", "_new_ends", "_new_starts", "_old_ends", "_old_starts")

    def __init__(self, starts: list[int], ends: list[int], reps: list[str]) -> None:
        # starts, ends, reps: each replacement's original span and text, in order and disjoint.
        lengths = list(map(len, reps))
        # growth[k]: new offset - original offset after the first k replacements.
        growth = list(accumulate(map(sub, lengths, map(sub, ends, starts)), initial=0))
        new_starts = list(map(add, starts, growth))
        self._new_ends = [*map(add, new_starts, lengths), _FAR]
        self._new_starts = [*new_starts, _FAR]
        self._old_starts = [*starts, _FAR]
        self._old_ends = [*ends, _FAR]
        self._back = list(map(neg, growth))

    def start(self, pos: int) -> int:
        """Original offset of a start position (inside a replacement: the replaced text's start)."""
        k = bisect_right(self._new_ends, pos)  # the replacements wholly before pos
        return self._old_starts[k] if self._new_starts[k] < pos else pos + self._back[k]

    def end(self, pos: int) -> int:
        """Original offset of an end position, exclusive (inside a replacement: the replaced text's end)."""
        k = bisect_right(self._new_ends, pos)
        return self._old_ends[k] if self._new_starts[k] < pos else pos + self._back[k]

    def original_spans(self, starts: list[int], ends: list[int]) -> tuple[list[int], list[int]]:
        """Original starts and ends of many spans; the same as start() and end() on each, in one call.

        Fastest with the spans in order of start (each an end no less than its start): the replacements are then
        walked forward once, which costs less than a bisect per offset (bench_extract_paired.py, dense text).
        """
        if len(self._new_ends) == 1:
            return starts, ends
        new_ends, new_starts, old_starts, old_ends, back = (
            self._new_ends,
            self._new_starts,
            self._old_starts,
            self._old_ends,
            self._back,
        )
        out_starts: list[int] = []
        out_ends: list[int] = []
        add_start, add_end = out_starts.append, out_ends.append
        k = previous = 0
        for start, end in zip(starts, ends, strict=True):
            if start < previous:  # out of order: walk again from the first replacement
                k = 0
            previous = start
            while new_ends[k] <= start:  # k: the replacements wholly before start
                k += 1
            add_start(old_starts[k] if new_starts[k] < start else start + back[k])
            j = k
            while new_ends[j] <= end:
                j += 1
            add_end(old_ends[j] if new_starts[j] < end else end + back[j])
        return out_starts, out_ends


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


def bracket_edits(text: str) -> list[tuple[int, int, str]]:
    """(start, end, replacement) of each bracketed separator to refang, by bracket kind, each kind in order."""
    edits: list[tuple[int, int, str]] = []
    append = edits.append
    for pattern, groups in zip(_BRACKETED, _GROUPS, strict=True):
        for m in pattern.finditer(text):
            space, rep = groups[m.lastindex or 0]
            append((m.start() - space, m.end(), rep))
    return edits


def _edits(text: str, lowered: bytes) -> list[tuple[int, int, str]]:
    """(start, end, replacement) of every edit, sorted; overlapping ones included."""
    edits = bracket_edits(text)
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
        return text, ascii_text, OffsetMap([], [], [])
    starts = list(map(_EDIT_START, edits))
    ends = list(map(_EDIT_END, edits))
    if any(map(gt, ends, starts[1:])):  # overlapping edits (rare): keep the first
        kept, last = [], 0
        for edit in edits:
            if edit[0] >= last:
                kept.append(edit)
                last = edit[1]
        edits = kept
        starts = list(map(_EDIT_START, edits))
        ends = list(map(_EDIT_END, edits))
    reps = list(map(_EDIT_REP, edits))
    # The text between edits, interleaved with the replacements, joined in C.
    gaps = map(text.__getitem__, map(slice, chain((0,), ends), chain(starts, (None,))))
    fanged = "".join(chain.from_iterable(zip(gaps, chain(reps, ("",)), strict=True)))
    # "replace" writes one '?' per character, so the bytes keep the offsets of the text.
    return fanged, fanged.encode("ascii", "replace"), OffsetMap(starts, ends, reps)


def refang(text: str) -> tuple[str, OffsetMap]:
    """Return the text with defanged separators restored, and the offset map back to the original."""
    fanged, _, offsets = refang_ascii(text)
    return fanged, offsets
