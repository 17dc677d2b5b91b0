"""Per-object work that needs no database: validation, canonical bytes, digest, extracted columns.

It is pure so that bulk imports can run it in helper processes while the main process writes.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from accord.correlate.indexer import Flag, IndexEntry, index_entries, listed_values
from accord.correlate.indicator_values import export_rows
from accord.correlate.values import values_of
from accord.correlate.warninglists import WarninglistMatcher
from accord.correlate.words import words_of
from accord.stix.ids import id_key
from accord.stix.markings import tlp_of
from accord.stix.timestamps import normalize_timestamp
from accord.stix.validate import object_version, validate_object

# A NUL character in a string: PostgreSQL's text columns cannot hold one, and no STIX value needs it, so it is
# refused on every database alike. The canonical bytes spell it \u0000; an odd run of backslashes before "u0000"
# is that escape, an even one is a literal backslash followed by the text "u0000".
_ESCAPED_NUL = b"\\u0000"
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def holds_nul(json_bytes: bytes) -> bool:
    """Whether JSON text holds a NUL character in a string (one substring test; the regex only on a hit).

    Valid JSON can spell a NUL only as this escape, so text without one holds no object that has a NUL.
    """
    return _ESCAPED_NUL in json_bytes and _NUL.search(json_bytes) is not None


NUL_REASON = "a string holds a NUL character (\\u0000), which the store does not accept"


class Prepared(NamedTuple):
    """A valid object, ready to be versioned and written."""

    id: str
    type: str
    version: str
    created: str | None
    spec_version: str
    revoked: bool
    tlp: int | None
    created_by_ref: str | None
    raw: bytes
    body_hash: bytes
    id_key: int  # accord.stix.ids.id_key(id): how the store finds the object's versions
    values: tuple[IndexEntry, ...] = ()  # value-index rows (accord.correlate), computed here to run in workers
    listed: tuple[Flag, ...] = ()  # its values on active warninglists (flagged in ingest reports)
    exports: tuple[tuple[Any, ...], ...] = ()  # an indicator's rows for exports (accord.correlate.indicator_values)
    words: tuple[str, ...] = ()  # its search words (accord.correlate.words): value-index rows of kind WORD


class Refused(NamedTuple):
    """An object refused before it reached the database, with the reason."""

    refused: bool  # always True: the tag that tells a Refused row from a Prepared one (whose first field is its id)
    id: str | None
    reason: str
    version: str = ""  # its modified (else created) when valid: TAXII status failures name the version


# A Prepared's or a Refused's fields as a plain tuple, in field order: what travels between processes (pack).
# A row whose first field is True is a Refused (its tag); any other is a Prepared.
Row = tuple[Any, ...]


def prepare(
    obj: Any, max_bytes: int, *, index: bool = True, wl: WarninglistMatcher | None = None
) -> Prepared | Refused:
    """Validate one object and compute what the store records for it (with its value-index rows).

    With `wl`, its values on those warninglists are flagged too (they need the index rows).
    """
    return prepare_all([obj], max_bytes, index=index, wl=wl)[0]


def _refused(obj: Any, reason: str) -> tuple[bool, str | None, str, str]:
    """A Refused row (in Refused's field order, tagged)."""
    if not isinstance(obj, dict):
        return (True, None, reason, "")
    oid = obj.get("id") if isinstance(obj.get("id"), str) else None
    return (True, oid, reason, object_version(obj))


def pack(rows: list[Row]) -> bytes:
    """Prepared objects, as plain tuples (prepare_rows), as bytes for another process (named tuples unpickle
    several times slower).

    Without the pickler's memo ("fast" mode): it remembers every object it writes, to write repeats as references,
    and the tuples hold no repeat worth it, so pickling is much faster and unpickling as fast, for slightly longer
    bytes (bench/bench_import.py). Fast mode loops on a self-referencing object: these are trees of strs, ints
    and bytes.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump(rows)
    return buffer.getvalue()


def unpack(blob: bytes) -> list[Prepared | Refused]:
    """The inverse of pack (only for bytes our own helper processes produced)."""
    return _typed(pickle.loads(blob))  # noqa: S301 - written by pack() in our own child process


def _typed(rows: list[Row]) -> list[Prepared | Refused]:
    return [Refused._make(row) if row[0] is True else Prepared._make(row) for row in rows]


def prepare_all(
    objects: Iterable[Any],
    max_bytes: int,
    *,
    index: bool = True,
    wl: WarninglistMatcher | None = None,
    nul_free: bool = False,
) -> list[Prepared | Refused]:
    """prepare() over a batch, one phase at a time (validation, canonical bytes, index rows, flags).

    Running each phase over the whole batch keeps its code hot in the processor's caches: a third less time
    than taking every object through every step in turn, for the same result. `nul_free`: the caller found no
    NUL in the JSON text the objects were parsed from (not holds_nul(text)), so no object is searched for one.
    """
    return _typed(prepare_rows(objects, max_bytes, index=index, wl=wl, nul_free=nul_free))


def prepare_rows(
    objects: Iterable[Any],
    max_bytes: int,
    *,
    index: bool = True,
    wl: WarninglistMatcher | None = None,
    nul_free: bool = False,
) -> list[Row]:
    """prepare_all() with each object as a plain tuple of Prepared's (or Refused's) fields: what pack ships.

    Tuples are built here, not named tuples converted later: a worker prepares and pickles them faster
    (bench/bench_import.py).
    """
    objs = objects if isinstance(objects, list) else list(objects)
    reasons = [validate_object(obj) for obj in objs]
    valid = [obj for obj, reason in zip(objs, reasons, strict=True) if reason is None]
    raws = [orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) for obj in valid]
    entries: list[tuple[IndexEntry, ...]] = [()] * len(valid)
    words: list[tuple[str, ...]] = [()] * len(valid)
    flags: list[tuple[Flag, ...]] = [()] * len(valid)
    values: list[Any] = [None] * len(valid)
    if index:
        pairs = zip(valid, raws, strict=True)
        values = [values_of(obj) if len(raw) <= max_bytes else () for obj, raw in pairs]
        entries = [index_entries(v) for v in values]
        # Name and description words go into the same index (search finds them as lookups find values), as
        # bare words here: the writer adds the columns every word row shares.
        words = [words_of(obj) if len(raw) <= max_bytes else () for obj, raw in zip(valid, raws, strict=True)]
        if wl is not None:
            flags = [listed_values(v, wl) if v else () for v in values]
    exports = [
        export_rows(obj, v, wl, f if wl is not None and index else None) if obj["type"] == "indicator" else ()
        for obj, v, f in zip(valid, values, flags, strict=True)
    ]
    out: list[Row] = []
    k = 0
    for obj, reason in zip(objs, reasons, strict=True):
        if reason is not None:
            out.append(_refused(obj, reason))
            continue
        raw = raws[k]
        if len(raw) > max_bytes:
            out.append(_refused(obj, f"object is {len(raw):,} bytes; the limit is {max_bytes:,} bytes"))
        elif not nul_free and holds_nul(raw):
            out.append(_refused(obj, NUL_REASON))
        else:
            created = obj.get("created")
            tlp = tlp_of(obj)
            ref = obj.get("created_by_ref")
            out.append(
                (  # in Prepared's field order
                    obj["id"],
                    obj["type"],
                    object_version(obj),
                    normalize_timestamp(created) if isinstance(created, str) else None,
                    obj.get("spec_version") or "2.1",
                    obj.get("revoked") is True,
                    None if tlp is None else int(tlp),
                    ref if isinstance(ref, str) else None,
                    raw,
                    hashlib.blake2b(raw, digest_size=16).digest(),
                    id_key(obj["id"]),
                    entries[k],
                    flags[k],
                    exports[k],
                    words[k],
                )
            )
        k += 1
    return out
