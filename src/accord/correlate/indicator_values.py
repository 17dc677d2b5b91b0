"""What exports need of each indicator version, computed once when it is stored (the `indicator_value` table).

An export of active values (blocklist, RPZ, Suricata) would otherwise parse every readable indicator's JSON
and pattern and compute its score facts on every request. Here they are computed in the writing transaction
(`fill`, called by the store for the versions one ingest stored) and read back as plain rows; the score itself
still depends on the time, the sightings the caller may read and the decay model of the value's kind, so it is
computed at export time by `scoring.score_from_facts` (the one formula). The warninglists holding each value
are matched here too, with the lists' fingerprint in the head row: an export uses them while the active lists
are still those, and matches at export time otherwise (the lists may change after a value was stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, delete, select

from accord.core.db import insert_rows
from accord.correlate.scoring import is_indicator, score_facts
from accord.correlate.values import IndexValue, values_of
from accord.correlate.warninglists import WarninglistMatcher
from accord.models.correlate import indicator_value
from accord.models.objects import stix_object
from accord.stix.timestamps import timestamp_to_micros

COLUMNS = (
    "object_seq", "ord", "kind", "value", "base", "start_us", "until_us", "revoked", "rev", "name", "listed",
    "listed_by",
)  # fmt: skip
# The columns of revision 0017, what its backfill (fill) writes: the warninglist columns came later (0020)
# and a backfill has no matcher to fill them with.
FILLED = COLUMNS[:10]
LIST_SEPARATOR = "\n"  # between the names of the lists holding a value (`listed`)
# A version's rows go in as two kinds, each with only its own columns bound (the others are the same in every row):
HEAD_COLUMNS = ("object_seq", "base", "start_us", "until_us", "revoked", "rev", "name", "listed_by")  # ord 0
VALUE_COLUMNS = ("object_seq", "ord", "kind", "value", "listed")  # ord >= 1, no score facts
_HEAD_FIXED = {"ord": 0, "kind": None, "value": None, "listed": None}
_VALUE_FIXED = dict.fromkeys(HEAD_COLUMNS[1:])
_HEAD_FOLD = (3, 4)  # until_us, revoked: the same in most envelopes, then written into the statement
NAME_CHARS = 120  # what a Suricata rule's msg shows of an indicator's name
_REV_EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z
_CHUNK = 500
_HASH_PREFIX = "hash:"


def export_kind(kind: str, value: str) -> str:
    """The kind a blocklist or CSV gives an index row: ip, cidr, domain, url, md5, sha1, sha256, email, ..."""
    if kind == "ip":
        return "cidr" if "/" in value else "ip"
    if kind.startswith(_HASH_PREFIX):
        return kind[len(_HASH_PREFIX) :]
    return kind


def host_of(url: str) -> str:
    """The host part of a URL (brackets and port removed)."""
    rest = url.partition("://")[2]
    host = rest.split("/", 1)[0].rpartition("@")[2]
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def exported_values(obj: dict[str, Any], values: Sequence[IndexValue] | None = None) -> list[IndexValue]:
    """The values of an object that exports carry, in order, each (export kind, value) once.

    Links (ref:) and non-correlating rows are left out, and so is the host of a URL right after it: a URL is
    not a verdict on its whole host. `values`: the object's values_of(), when the caller has them already.
    """
    out: list[IndexValue] = []
    url_host: str | None = None
    seen: set[tuple[str, str]] = set()
    for row in values_of(obj) if values is None else values:
        if not row.correlating or row.kind.startswith("ref:"):
            url_host = None
            continue
        if url_host is not None and row.kind in ("domain", "ip") and row.value == url_host:
            url_host = None
            continue
        url_host = host_of(row.value) if row.kind == "url" else None
        key = (export_kind(row.kind, row.value), row.value)
        if key in seen:
            continue
        seen.add(key)
        out.append(row)
    return out


def rule_rev(obj: dict[str, Any]) -> int:
    """A Suricata rule's revision: the indicator's modified time in seconds since 2020 (at least 1)."""
    stamp = obj.get("modified") or obj.get("created")
    try:
        seconds = timestamp_to_micros(stamp) // 1_000_000 if isinstance(stamp, str) else 0
    except ValueError:
        seconds = 0
    return max(1, seconds - _REV_EPOCH)


def export_rows(
    obj: dict[str, Any],
    values: Sequence[IndexValue] | None = None,
    wl: WarninglistMatcher | None = None,
    flags: Sequence[tuple[str, str, tuple[str, ...]]] | None = None,
) -> tuple[tuple[Any, ...], ...]:
    """What `indicator_value` holds of one indicator version, without the seq (not known until it is stored):
    its head (HEAD_COLUMNS without the seq), then its values (VALUE_COLUMNS without the seq); () for an object
    that is no indicator. The store's prepare step computes them with the index rows (in helper processes for a
    bulk import), from the values it has already; with `wl`, each value's warninglists too, taken from `flags`
    when prepare has them already (accord.correlate.indexer.listed_values: the same look-ups)."""
    if obj.get("type") != "indicator" or not is_indicator(obj):
        return ()
    base, start_us, until_us, revoked = score_facts(obj)
    name = obj.get("name")
    by = None if wl is None else wl.fingerprint
    rows: list[tuple[Any, ...]] = [
        (base, start_us, until_us, revoked, rule_rev(obj), str(name)[:NAME_CHARS] if name else None, by)
    ]
    if wl is None:
        rows += [(n, row.kind, row.value, None) for n, row in enumerate(exported_values(obj, values), 1)]
    elif flags is not None:
        known = {(kind, value): names for kind, value, names in flags}
        for n, row in enumerate(exported_values(obj, values), 1):
            rows.append((n, row.kind, row.value, LIST_SEPARATOR.join(known.get((row.kind, row.value), ())) or None))
    else:
        hits = wl.hits
        for n, row in enumerate(exported_values(obj, values), 1):
            rows.append(
                (n, row.kind, row.value, LIST_SEPARATOR.join(hits(row.kind, row.value, url_host=False)) or None)
            )
    return tuple(rows)


def rows_of(seq: int, obj: dict[str, Any], wl: WarninglistMatcher | None = None) -> list[tuple[Any, ...]]:
    """The `indicator_value` rows (COLUMNS order) of one stored indicator version: its head, then its values."""
    rows = export_rows(obj, wl=wl)
    if not rows:
        return []
    base, start_us, until_us, revoked, rev, name, by = rows[0]
    head = (seq, 0, None, None, base, start_us, until_us, revoked, rev, name, None, by)
    return [head] + [
        (seq, n, kind, value, None, None, None, None, None, None, listed, None) for n, kind, value, listed in rows[1:]
    ]


def insert(conn: Connection, heads: list[tuple[Any, ...]], values: list[tuple[Any, ...]]) -> None:
    """Write the rows of versions stored in the caller's transaction, heads (HEAD_COLUMNS order) and values
    (VALUE_COLUMNS order); empties both lists."""
    for start in range(0, len(heads), 5_000):
        part = heads[start : start + 5_000]
        insert_rows(conn, indicator_value.name, HEAD_COLUMNS, part, fixed=_HEAD_FIXED, fold=_HEAD_FOLD)
    for start in range(0, len(values), 5_000):
        insert_rows(conn, indicator_value.name, VALUE_COLUMNS, values[start : start + 5_000], fixed=_VALUE_FIXED)
    heads.clear()
    values.clear()


def fill(conn: Connection, seqs: Sequence[int]) -> None:
    """Store the rows of the indicator versions among `seqs`, read back from the store (the migration's backfill;
    the write path has them from prepare)."""
    o = stix_object.c
    ordered = sorted(seqs)
    for start in range(0, len(ordered), _CHUNK):
        part = ordered[start : start + _CHUNK]
        found = conn.execute(select(o.seq, o.raw).where(o.seq.in_(part), o.type == "indicator").order_by(o.seq)).all()
        rows: list[tuple[Any, ...]] = []
        for seq, raw in found:
            rows += [row[: len(FILLED)] for row in rows_of(int(seq), orjson.loads(raw))]
        for begin in range(0, len(rows), 5_000):
            insert_rows(conn, indicator_value.name, FILLED, rows[begin : begin + 5_000])


def backfill(conn: Connection, batch: int = 5_000) -> int:
    """Fill the table for every stored indicator version that has no rows yet (the migration runs it); the count."""
    o, iv = stix_object.c, indicator_value.c
    last, done = -1, 0
    while True:
        seqs = [
            int(s)
            for s in conn.execute(
                select(o.seq)
                .where(o.type == "indicator", o.seq > last, ~o.seq.in_(select(iv.object_seq).where(iv.ord == 0)))
                .order_by(o.seq)
                .limit(batch)
            ).scalars()
        ]
        if not seqs:
            return done
        conn.execute(delete(indicator_value).where(iv.object_seq.in_(seqs)))  # values of a version without head
        fill(conn, seqs)
        done += len(seqs)
        last = seqs[-1]
