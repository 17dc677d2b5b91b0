"""A TAXII envelope's objects read in slices: a large envelope is never held parsed whole.

A POSTed envelope of tens of megabytes takes several times its size once parsed into Python objects, and what
is parsed at once stays allocated at once (docs/limits.md, "Memory"). So the raw body is kept, and its
`objects` list is cut into slices of about `taxii_envelope_slice_bytes`, each parsed only when it is stored.

The cuts are found without parsing: where one object ends and the next begins (`}`, a comma, `{`) and the
brackets seen since the slice's start balance. A cut can still fall inside a string that holds unbalanced
brackets; then the slice does not parse, and it is joined with the next one until it does. A slice that parses
as a JSON array when it starts where an object starts ends where an object ends, so every object is read
exactly as a parser of the whole body reads it. A body laid out in any other way (no `objects` list found,
duplicate keys, a slice that never parses) is parsed whole, as before.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from accord.core.errors import BadRequest
from accord.stix.validate import object_version

_OBJECTS_KEY = re.compile(rb'"objects"\s*:\s*\[')
_NEXT_OBJECT = re.compile(rb"\}\s*,\s*\{")
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')  # a string, or a bracket outside strings
_TAIL_TRIES = 8  # `]` tried from the end for the one that closes the objects list (the rest is a few bytes)


def envelope_objects(body: Any) -> list[Any]:
    """The objects of a parsed TAXII envelope; BadRequest for anything that is not one."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a TAXII envelope: a JSON object with an 'objects' list")
    objects = body.get("objects", [])
    if not isinstance(objects, list):
        raise BadRequest("the envelope's 'objects' must be a list")
    return objects


def _parse(text: bytes | memoryview) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None


def pending_entry(obj: Any) -> dict[str, str]:
    """An object as a status resource lists it while pending: its id and version (empty when it has none)."""
    oid = obj.get("id") if isinstance(obj, dict) else None
    version = object_version(obj) if isinstance(obj, dict) else ""
    out = {"id": oid if isinstance(oid, str) else ""}
    if version:
        out["version"] = version
    return out


@dataclass(frozen=True, slots=True)
class Envelope:
    """A TAXII envelope: its raw body, and its objects as slices parsed one at a time (`batches`).

    `spans` are the byte ranges of the objects list's slices (each a run of whole objects, without the list's
    brackets), checked to parse; None when the body was parsed whole: then `parsed` holds its objects.
    `count` is the number of objects; `entries`, for a sliced envelope, each object's pending_entry (read while
    the slices were checked, so a queued envelope's status needs no second pass).
    """

    body: bytes | memoryview
    spans: tuple[tuple[int, int], ...] | None
    count: int
    parsed: list[Any] | None = None
    entries: list[dict[str, str]] | None = None

    @classmethod
    def read(cls, body: bytes, slice_bytes: int) -> Envelope:
        """The envelope in this body; BadRequest for a body that is not valid JSON or not an envelope.

        A body up to `slice_bytes` is parsed at once and kept parsed. A larger one is cut into slices of about
        that size, each parsed once here (to check it and count its objects) and let go before the next.
        """
        if len(body) > slice_bytes:
            spans = _cut(body, slice_bytes)
            if spans is not None:
                checked = _checked(body, spans)
                if checked is not None:
                    spans, entries = checked
                    return cls(body, spans, len(entries), entries=entries)
        return cls.whole(body)

    @classmethod
    def whole(cls, body: bytes | memoryview) -> Envelope:
        """The envelope in this body, parsed at once; BadRequest for one that is not valid JSON or not an envelope."""
        objects = envelope_objects(_parse(body))
        return cls(body, None, len(objects), parsed=objects)

    @classmethod
    def of(cls, objects: list[Any]) -> Envelope:
        """An envelope of objects already parsed (serialised once, for a queued job)."""
        return cls(orjson.dumps({"objects": objects}), None, len(objects), parsed=objects)

    @classmethod
    def sliced(cls, body: bytes | memoryview, spans: list[list[int]]) -> Envelope:
        """An envelope read before (`read`), from its body and the spans it found then (a queued job's)."""
        return cls(body, tuple((int(a), int(b)) for a, b in spans), -1)

    def pendings(self) -> list[dict[str, str]]:
        """Each object's pending_entry, in order."""
        if self.entries is not None:
            return self.entries
        return [pending_entry(o) for o in self.objects()]

    def batches(self) -> Iterator[list[Any]]:
        """The objects in order, one parsed slice at a time (the caller lets go of each before the next)."""
        if self.spans is None:
            assert self.parsed is not None
            yield self.parsed
            return
        for start, end in self.spans:
            yield _parse(_bracketed(self.body, start, end))

    def objects(self) -> Iterator[Any]:
        """Every object in order (one slice parsed at a time)."""
        for batch in self.batches():
            yield from batch


def _bracketed(body: bytes | memoryview, start: int, end: int) -> bytes:
    """A slice of the objects list as a JSON array: a copy of the slice, never of the body."""
    view = memoryview(body)
    return b"".join((b"[", view[start:end], b"]"))


def _checked(body: bytes, spans: tuple[tuple[int, int], ...]) -> tuple[tuple[tuple[int, int], ...], list[Any]] | None:
    """The spans that parse, each joined with the next until it does, and every object's pending entry; None
    when the last one still does not parse (the body is left to a whole parse)."""
    checked: list[tuple[int, int]] = []
    entries: list[dict[str, str]] = []
    start: int | None = None
    for first, end in spans:
        start = first if start is None else start
        try:
            objects = orjson.loads(_bracketed(body, start, end))
        except orjson.JSONDecodeError:
            continue  # the cut fell inside a string (or the body is not JSON): joined with the next slice
        entries.extend(map(pending_entry, objects))
        del objects
        checked.append((start, end))
        start = None
    if start is not None:
        return None
    return tuple(checked), entries


def _cut(body: bytes, slice_bytes: int) -> tuple[tuple[int, int], ...] | None:
    """The spans of slices of about `slice_bytes` of the body's objects list; None where it is not found."""
    found = _OBJECTS_KEY.search(body)
    if found is None:
        return None
    first = found.end()
    last = _list_end(body, first)
    if last is None:
        return None
    spans: list[tuple[int, int]] = []
    start = first
    while last - start > slice_bytes:
        cut = _next_cut(body, start, start + slice_bytes, last)
        if cut is None:
            break
        end, following = cut
        spans.append((start, end))
        start = following
    spans.append((start, last))
    return tuple(spans)


def _list_end(body: bytes, first: int) -> int | None:
    """Where the objects list that starts at `first` ends (its `]`); None when it is not the envelope's.

    Checked by parsing the envelope with that list replaced by a random string: the envelope must be a JSON
    object whose `objects` (the last one, if the key is repeated) is that string.
    """
    marker = secrets.token_hex(16)
    end = len(body)
    for _ in range(_TAIL_TRIES):
        end = body.rfind(b"]", first, end)
        if end < 0:
            return None
        try:
            rest = orjson.loads(b"".join((body[: first - 1], b'"', marker.encode(), b'"', body[end + 1 :])))
        except orjson.JSONDecodeError:
            continue
        return end if isinstance(rest, dict) and rest.get("objects") == marker else None
    return None


def _next_cut(body: bytes, start: int, after: int, last: int) -> tuple[int, int] | None:
    """The first place past `after` where an object ends and the next begins, with the brackets since `start`
    balanced: (end of the slice, start of the next); None when there is none before `last`.

    Brackets are first counted as bytes, strings and all: exact unless a string holds unbalanced brackets. When
    no place within another slice's length balances that way, the strings are skipped token by token instead."""
    curly = square = 0
    counted = start
    window = min(last, after + (after - start))
    found = _NEXT_OBJECT.search(body, after, window)
    while found is not None:
        end = found.start() + 1
        curly += body.count(b"{", counted, end) - body.count(b"}", counted, end)
        square += body.count(b"[", counted, end) - body.count(b"]", counted, end)
        counted = end
        if curly == 0 and square == 0:
            return end, found.end() - 1
        found = _NEXT_OBJECT.search(body, found.end() - 1, window)
    return _next_cut_by_tokens(body, start, after, last)


def _next_cut_by_tokens(body: bytes, start: int, after: int, last: int) -> tuple[int, int] | None:
    """_next_cut with strings skipped: the depth followed bracket by bracket from `start`."""
    depth = 0
    for token in _TOKEN.finditer(body, start, last):
        kind = body[token.start()]
        if kind == 0x22:  # a string: its brackets are text
            continue
        if kind in b"[{":
            depth += 1
            continue
        depth -= 1
        if depth == 0 and token.start() >= after:
            following = _NEXT_OBJECT.match(body, token.start(), last)
            if following is not None:
                return token.end(), following.end() - 1
    return None
