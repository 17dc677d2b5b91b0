"""Lookup: what the caller may know about raw or defanged values, answered in a fixed number of batched queries.

Every distinct input is normalised once, every distinct normalised value is checked against the warninglists
once, and every distinct index probe runs once, however many values share it (URLs on one host, siblings
under one parent). Stages (each one SQL statement whatever the batch size; later stages run only when
earlier ones found something): CIDR prefix lengths in use (only when the input holds addresses); the
answers, where each probe first counts its index rows and, at most `correlation_widespread` of them,
returns its readable objects with their bodies; for values with many more index rows, a count of the
readable objects that stops at `correlation_count_cap` per probe; the answers of values above the limit
that may still have few readable objects; first and last seen of objects with several versions; the links
of the matched objects (reports, relationships, sightings); and the names of related intrusion sets, malware,
campaigns and threat actors. Every stage that reveals an object or a count filters through the policy.

Warninglists are checked at query time with the cached in-memory matcher (not stored at ingest), so changing
the active lists takes effect at once and never needs a re-index.
"""

from __future__ import annotations

import logging
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.core import helpers
from accord.core.db import engine_for_shown, read_transaction, shown_url
from accord.core.errors import BadRequest, PayloadTooLarge
from accord.core.perf import freeze_loaded, gc_paused
from accord.core.settings import get_settings
from accord.correlate import matching
from accord.correlate import repository as repo
from accord.correlate.enrich import Enricher
from accord.correlate.indexer import storage_key
from accord.correlate.values import IndexValue, normalize
from accord.correlate.warninglists import WarninglistMatcher, active_names, get_matcher
from accord.sharing.policy import Principal

log = logging.getLogger("accord.correlate")

MAX_VALUES = 10_000
SPLIT_MIN = 2_000  # values in a batch worth splitting with a helper process (below, shipping costs more)
SPLIT_SHARE = 50  # percent of a split batch answered here: this side also decodes the helper's answer
HELPER_TASK = "correlate.lookup"  # in the helpers' registry (accord.worker.helpers)
# A value whose probes hold at most this many times `correlation_widespread` index rows is fetched and
# counted in one pass; beyond it, counting readable objects in the database first costs less.
_FETCH_FACTOR = 2
ProbeKey = tuple[str, str, str, str]  # mode, kind, a, b


def answers(
    conn: Connection,
    principal: Principal,
    probes: Mapping[ProbeKey, list[int]],
    own: Sequence[str],
    limit: int,
    cap: int,
) -> tuple[dict[int, dict[int, repo.Answer]], dict[int, tuple[int, bool]]]:
    """Per tag: its readable answers (one per object) when at most `limit`, else the count of readable objects
    and whether counting stopped at `cap` objects of a probe (then the count is a lower bound).

    `probes` maps each distinct probe to the tags that need it (URLs on one host, siblings under one
    parent): each runs once. `own` is each tag's own index key: an object holding it answers as an exact
    match however else it matched. A value with many index rows is counted in the database, never listed.
    """
    keys = list(probes)
    tags_of = list(probes.values())
    per_tag: dict[int, dict[int, repo.Answer]] = defaultdict(dict)

    def keep(found: Iterable[repo.Answer]) -> None:
        for answer in found:
            for tag in tags_of[answer.probe]:
                seen = per_tag[tag]
                prior = seen.get(answer.seq)  # one answer per object version; an exact one wins
                if prior is None or (answer.key == own[tag] and prior.key != own[tag]):
                    seen[answer.seq] = answer

    found, above = repo.answers(conn, principal, [(n, *key) for n, key in enumerate(keys)], limit)
    keep(found)
    # Tags with probes above the limit in index rows (readable or not): with a few times the limit, their
    # readable answers are fetched and counted here; with more, their readable objects are counted in the
    # database first, at most `cap` per probe, and fetched only when at most `limit` turn out readable.
    big_rows: dict[int, int] = defaultdict(int)
    for n, count in above.items():
        for tag in tags_of[n]:
            big_rows[tag] += count
    far = {tag for tag, count in big_rows.items() if count > _FETCH_FACTOR * max(limit, 1)}
    counted: dict[int, tuple[int, bool]] = {}
    if far:
        big = [repo.Probe(n, *keys[n]) for n in sorted(above) if far.intersection(tags_of[n])]
        matches, cut = repo.probe_capped(conn, principal, big, max(cap, limit + 1))
        seqs: dict[int, set[int]] = {tag: set(per_tag.get(tag, ())) for tag in far}
        capped: set[int] = set()
        for m in matches:
            for tag in tags_of[m.tag]:
                if tag in far:
                    seqs[tag].add(m.seq)
        for n in cut:
            capped.update(tags_of[n])
        counted = {tag: (len(got), tag in capped) for tag, got in seqs.items() if len(got) > limit}
    wanted = big_rows.keys() - counted.keys()
    fetch = [(n, *keys[n]) for n in above if wanted.intersection(tags_of[n])]
    if fetch:
        keep(repo.answers(conn, principal, fetch, None)[0])
    widespread = counted
    for tag, found_for_tag in per_tag.items():
        if tag not in counted and len(found_for_tag) > limit:
            widespread[tag] = (len(found_for_tag), False)
    for tag in widespread:
        per_tag.pop(tag, None)
    return per_tag, widespread


def lookup(conn: Connection, principal: Principal, values: Sequence[str]) -> list[dict[str, Any]]:
    """For each raw value: normalised forms, warninglist hits and readable contexts (or a widespread count)."""
    parts = _answer(conn, principal, values, encode=False)
    if len(parts) == 1 and isinstance(parts[0], list):
        return parts[0]
    with gc_paused():
        return [item for part in parts for item in (part if isinstance(part, list) else orjson.loads(part))]


def lookup_json(conn: Connection, principal: Principal, values: Sequence[str]) -> bytes:
    """lookup() as the JSON array the API sends: a helper's share is spliced in as the bytes it sent."""
    with gc_paused():  # the answers are freed before the collector resumes: it never walks them
        parts = _answer(conn, principal, values, encode=True)
        encoded = [part if isinstance(part, bytes) else orjson.dumps(part) for part in parts]
        return b"[" + b",".join(part[1:-1] for part in encoded if part != b"[]") + b"]"


def _answer(
    conn: Connection, principal: Principal, values: Sequence[str], *, encode: bool
) -> list[list[dict[str, Any]] | bytes]:
    """The answers of consecutive slices of `values`: lists computed here, JSON bytes from a helper.

    With `encode`, this process's share of a split batch is encoded while the helper may still be working.
    """
    if len(values) > MAX_VALUES:
        raise PayloadTooLarge(f"at most {MAX_VALUES:,} values per lookup; got {len(values):,}")
    # Never stored (see accord.store.prepare), and PostgreSQL refuses it as a parameter.
    first_nul = next((i for i, value in enumerate(values) if "\x00" in value), None)
    if first_nul is not None:
        raise BadRequest(f"value {first_nul + 1} holds a NUL character (\\u0000); no stored value can")
    settings = get_settings()
    limit, cap = settings.correlation_widespread, settings.correlation_count_cap
    names = active_names()
    wl = get_matcher(names)
    # A batch allocates tens of thousands of acyclic rows, probes and dicts; each pass of the cyclic
    # collector would walk the warninglists and the suffix list too (bench/bench_correlate.py, batches).
    with gc_paused():
        # A large batch in a read-only unit of work (nothing uncommitted of its own to see) is split: a
        # helper process answers the second half from its own snapshot while this one answers the first.
        if len(values) < SPLIT_MIN or not conn.get_execution_options().get("accord_readonly"):
            return [_lookup(conn, principal, values, limit, cap, wl)]
        split = len(values) * SPLIT_SHARE // 100
        url = shown_url(conn.engine)  # never the password: the helper finds it in its own settings
        pending = helpers.submit(HELPER_TASK, pickle.dumps((url, names, limit, cap, principal, list(values[split:]))))
        if pending is None:
            return [_lookup(conn, principal, values, limit, cap, wl)]
        try:
            head: list[dict[str, Any]] | bytes = _lookup(conn, principal, values[:split], limit, cap, wl)
            if encode:
                head = orjson.dumps(head)
        except BaseException:
            pending.abandon()
            raise
        try:
            return [head, pending.result()]
        except helpers.HelperError:
            log.exception("a helper process failed; answering its share here")
            return [head, _lookup(conn, principal, values[split:], limit, cap, wl)]


def lookup_frame(request: bytes) -> bytes:
    """Helper side of a split batch: (database URL without its password, active lists, widespread limit,
    count cap, principal, values) -> JSON.

    The helper runs it with the collector paused (accord.core.helpers)."""
    url, names, limit, cap, principal, values = pickle.loads(request)  # noqa: S301 - from our own parent process
    with read_transaction(engine_for_shown(url)) as conn:
        return orjson.dumps(_lookup(conn, principal, values, limit, cap, get_matcher(names)))


def warm() -> None:
    """Helper warm-up: load the active warninglists and the public suffix list before the first batch."""
    matching.matcher()
    matching.is_public_suffix("example.com")


def start_up() -> None:
    """What a serving process does before its first lookup: load the tables (warm) and keep them out of the
    cyclic collector's sight (freeze_loaded); helpers do the same after their warm-ups."""
    warm()
    freeze_loaded()


def _lookup(
    conn: Connection, principal: Principal, values: Sequence[str], limit: int, cap: int, wl: WarninglistMatcher
) -> list[dict[str, Any]]:
    # Batches repeat themselves (many URLs on one host, one value pasted twice): every distinct input is
    # normalised once, and every distinct normalised row is checked, probed and counted once (its tag).
    forms: dict[str, list[int]] = {}
    tags: dict[IndexValue, int] = {}
    rows: list[IndexValue] = []
    for raw in values:
        if not isinstance(raw, str) or raw in forms:
            continue
        entry = forms[raw] = []
        for row in normalize(None, raw):
            tag = tags.get(row)
            if tag is None:
                tag = tags[row] = len(rows)
                rows.append(row)
            entry.append(tag)
    listed = [wl.hits(row.kind, row.value) for row in rows]
    lengths = repo.cidr_lengths(conn) if any(r.kind == "ip" for r in rows) else {}
    probes: dict[ProbeKey, list[int]] = {}
    for tag, row in enumerate(rows):
        related = row.kind != "domain" or not matching.is_public_suffix(row.value)
        for key in matching.probe_keys(row, lengths, related=related):
            sharing = probes.get(key)
            if sharing is None:
                probes[key] = [tag]
            else:
                sharing.append(tag)
    own = [storage_key(row.key) for row in rows]
    per_tag, widespread = answers(conn, principal, probes, own, limit, cap) if probes else ({}, {})
    versions = {a.seq: a for got in per_tag.values() for a in got.values()}
    details = {seq: repo.Details(a.raw, seq, seq) for seq, a in versions.items() if a.only_version}
    if len(details) < len(versions):  # objects with several versions: first and last of the readable ones
        details |= repo.details(conn, principal, sorted(versions.keys() - details.keys()))
    shared = {a.id for a in versions.values() if not a.sole}
    render = Enricher(conn, principal, (), details, {a.id for a in versions.values()}, shared).render
    results = {raw: _items(entry, rows, listed, per_tag, widespread, render) for raw, entry in forms.items()}
    out: list[dict[str, Any]] = []
    given: set[str] = set()
    for raw in values:
        answer: list[dict[str, Any]] = []
        if isinstance(raw, str):
            answer = results[raw]
            if raw in given:  # a repeated input gets its own copies: changing one answer leaves the other alone
                answer = [dict(item) for item in answer]
            given.add(raw)
        out.append({"input": raw, "values": answer})
    return out


def _items(
    entry: list[int],
    rows: list[IndexValue],
    listed: list[list[str]],
    per_tag: Mapping[int, dict[int, repo.Answer]],
    widespread: Mapping[int, tuple[int, bool]],
    render: Callable[..., dict[str, Any]],
) -> list[dict[str, Any]]:
    """The answer items of one input (its normalised forms), their matches rendered (Enricher.render)."""
    out: list[dict[str, Any]] = []
    hosts: set[tuple[str, str]] | None = None
    for tag in entry:
        row = rows[tag]
        item: dict[str, Any] = {"kind": row.kind, "value": row.value, "warninglists": listed[tag]}
        counted = widespread.get(tag)
        if counted is not None:
            item["widespread"] = True
            item["count"], item["count_capped"] = counted
        else:
            item["matches"] = []
            answered = per_tag.get(tag)
            if answered:
                if hosts is None:  # a URL input's forms are the URL and then its host
                    url_input = len(entry) > 1 and rows[entry[0]].kind == "url"
                    hosts = {(rows[t].kind, rows[t].key) for t in entry[1:]} if url_input else set()
                kind = row.kind
                item["matches"] = [
                    render(
                        a.seq,
                        a.id,
                        a.type,
                        a.owner,
                        matching.match_kind(row, a.kind, a.key, hosts),
                        matching.shown(a.kind, a.key, a.value),
                        a.kind,
                        a.key,
                        kind,
                    )
                    for a in sorted(answered.values(), key=_by_seq)
                ]
        out.append(item)
    return out


_by_seq = attrgetter("seq")
