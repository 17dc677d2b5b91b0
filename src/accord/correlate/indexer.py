"""Writes value-index rows for stored object versions, in the ingest transaction (one executemany)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

from accord.core.db import insert_rows, is_postgres
from accord.correlate.values import IndexValue, domain_key
from accord.correlate.warninglists import WarninglistMatcher
from accord.correlate.words import WORD

# B-tree entries must stay small (PostgreSQL refuses index rows over ~2.7 kB): longer keys are stored as a
# digest, and probes apply the same mapping, so long URLs still match exactly.
MAX_KEY = 512
CIDR_MARK = "ref:cidr"  # marker rows (object_seq 0, never joined to an object): prefix lengths in use
COLUMNS = ("kind", "key", "object_seq", "value", "lo", "hi", "correlating")
ROW_COLUMNS = COLUMNS[1:]  # a queued row: its kind is its bucket's


def storage_key(key: str) -> str:
    """The key as stored: itself, or '#' + a digest when it is too long for an index entry."""
    if len(key) <= MAX_KEY:
        return key
    return "#" + hashlib.blake2b(key.encode(), digest_size=20).hexdigest()


def display_value(kind: str, key: str, value: str | None) -> str:
    """The value of an index row for people (domain keys are reversed labels)."""
    if value is not None:
        return value
    if kind == "domain":
        return ".".join(reversed(key[:-1].split(".")))
    return key


IndexEntry = tuple[str, str, str | None, Any, Any, bool]  # kind, stored key, stored value, lo, hi, correlating


def index_entries(values: Iterable[IndexValue]) -> tuple[IndexEntry, ...]:
    """The value-index rows of one object version, without its seq (pure: bulk imports run it in workers)."""
    out: list[IndexEntry] = []
    append = out.append
    for kind, value, raw_key, lo, hi, correlating in values:
        key = raw_key
        stored = None if key == (domain_key(value) if kind == "domain" else value) else value
        if len(key) > MAX_KEY:
            stored, key = value, storage_key(key)
        append((kind, key, stored, lo, hi, correlating))
        if kind == "ip" and lo != hi and lo is not None:
            # One marker per CIDR prefix length in use: containment probes only try lengths that exist.
            append((CIDR_MARK, f"{lo[0]}/{key.rpartition('/')[2]}", None, None, None, False))
    return tuple(out)


Flag = tuple[str, str, tuple[str, ...]]  # kind, value, names of the warninglists that hold it


def listed_values(values: Iterable[IndexValue], wl: WarninglistMatcher) -> tuple[Flag, ...]:
    """The correlating values among an object's index values (values_of) that are on active warninglists.

    Each value is the display value of its index row (display_value). A URL's host has its own (domain or ip)
    row, so a URL is checked without its host.
    """
    out: list[Flag] = []
    hits = wl.hits
    for kind, value, _key, _lo, _hi, correlating in values:
        if correlating and kind[:4] != "ref:":
            names = hits(kind, value, url_host=False)
            if names:
                out.append((kind, value, tuple(names)))
    return tuple(out)


_key = itemgetter(0)
_WORD_COLUMNS = {"kind": WORD, "value": None, "lo": None, "hi": None, "correlating": False}


class PendingRows:
    """Value-index rows of stored versions waiting for one sorted insert, bucketed by kind as they arrive.

    B-tree inserts in primary-key order touch each page once: a quarter less work than in seq order. Rows
    arrive in seq order, so each bucket sorted by key alone (a stable sort) is in (key, seq) order, and
    comparing one string is four times faster than comparing (kind, key, seq) tuples. Bucketing as batches
    are stored leaves only the sorts for the end. A bucket's rows leave out the kind (the bucket's). Search
    words (kind WORD) wait as (word, seq) only: their other columns are the same in every row.
    """

    __slots__ = ("by_kind", "export_heads", "export_values", "versions", "words")

    def __init__(self) -> None:
        self.by_kind: dict[str, list[tuple[Any, ...]]] = {}  # kind -> (key, seq, value, lo, hi, correlating)
        self.words: list[tuple[str, int]] = []  # (word, seq): rows of kind WORD
        self.versions = 0
        # indicator_value rows of the same versions (accord.correlate.indicator_values): heads, values
        self.export_heads: list[tuple[Any, ...]] = []
        self.export_values: list[tuple[Any, ...]] = []

    def add(self, seq: int, entries: Iterable[IndexEntry]) -> None:
        """Queue the rows of one newly stored version (versions come in seq order)."""
        by_kind = self.by_kind
        for kind, key, stored, lo, hi, correlating in entries:
            bucket = by_kind.get(kind)
            if bucket is None:
                bucket = by_kind[kind] = []
            bucket.append((key, 0 if kind == CIDR_MARK else seq, stored, lo, hi, correlating))
        self.versions += 1

    def add_words(self, seq: int, words: Iterable[str]) -> None:
        """Queue the search words (accord.correlate.words) of a version queued with add()."""
        self.words += zip(words, repeat(seq))


def index_rows(conn: Connection, pending: PendingRows) -> None:
    """Insert the queued rows (of versions stored in this transaction) in primary-key order; empties `pending`.

    Within a kind most columns hold one value (usually no display value, no bounds, one correlating flag):
    those are written into the statement instead of bound per row (accord.core.db.insert_rows), which makes
    an import's index inserts faster on SQLite (bench/bench_import.py).
    """
    pg = is_postgres(conn)
    words = pending.words
    given = pending.by_kind.pop(WORD, None)  # words queued as entries (add) join the others
    if given:
        words += [(key, seq) for key, seq, *_ in given]
    if given:
        words.sort()  # (word, seq) order, which _unique needs
        words = _unique(words)
    else:
        words.sort(key=_key)  # add_words queues versions in seq order: a stable sort by word is enough
    if words:
        # Nothing bound but the word and the seq (add_words queues each word of a version once).
        insert_rows(conn, "value_index", ("key", "object_seq"), words, fixed=_WORD_COLUMNS, ignore_conflicts=not pg)
    for kind in sorted(pending.by_kind):
        bucket = pending.by_kind[kind]
        bucket.sort(key=_key)
        if pg and kind != CIDR_MARK:
            # COPY has no ON CONFLICT. These versions are new, so the only repeats are one version's twice-named
            # values, adjacent after the stable sort; CIDR markers (shared by all versions) take the INSERT.
            insert_rows(conn, "value_index", ROW_COLUMNS, _unique(bucket), fixed={"kind": kind})
        else:
            # A pattern may name one value twice in forms that normalise alike: the second row adds nothing.
            insert_rows(
                conn, "value_index", ROW_COLUMNS, bucket, fixed={"kind": kind}, fold=(2, 3, 4, 5), ignore_conflicts=True
            )
    # Emptied here, while the caller still pauses the cyclic collector (accord.core.perf.gc_paused): rows left
    # alive when it resumes are all in its youngest generation, and its first pass walks every one of them.
    pending.by_kind.clear()
    pending.words = []
    pending.versions = 0


def _unique(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows without repeats of the row before's key and seq (rows sorted by key, equal keys in seq order)."""
    out: list[tuple[Any, ...]] = []
    last: tuple[Any, Any] = (None, None)
    for row in rows:
        ident = (row[0], row[1])
        if ident != last:
            out.append(row)
            last = ident
    return out
