"""The STIX 2.1 object store: validates and versions objects, then writes them in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Connection

from accord.core.perf import gc_paused
from accord.core.settings import get_settings
from accord.correlate import indicator_values
from accord.correlate.indexer import Flag, PendingRows, index_rows
from accord.correlate.warninglists import active_matcher
from accord.sharing.policy import Principal
from accord.store import daily, hooks
from accord.store import repository as repo
from accord.store.copies import Accepted, Candidate, CopyState, decide, foreign_states, load_states, shared_ids
from accord.store.prepare import Prepared, Refused, prepare_all

# Object versions whose value-index rows may wait for one sorted insert. An import's last insert runs after the
# workers are done, on one core, while earlier ones overlap with their preparing, though later inserts land between
# the earlier keys. Paired imports (bench/bench_import.py) were fastest from about this size down; smaller
# flushes gained nothing more.
INDEX_FLUSH = 20_000

MAX_REASONS = 20
# What the dashboard's per-day counts (accord.store.daily) need of a version row: seq, type, owner, peer_id, tlp
# (by VERSION_COLUMNS position).
_DAILY_FACTS = itemgetter(0, 3, 9, 11, 10)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, where to, and over which link (W1, W2, W3, provenance).

    `reader` is the writer as the sharing policy knows it: what it may read of other copies is all that can
    decide its write (W3). Without one, the writer organisation's analysts' view is taken. Over a link
    (`peer_id`: a peer or a feed), what names no organisation the link speaks for is owned by `source_org_id`,
    the record of the link's source.
    """

    writer_org_id: int
    collection_id: int | None = None
    peer_id: int | None = None
    peer_org_ids: frozenset[int] = frozenset()  # organisations the peer node speaks for (W1 exception)
    keep_outcomes: bool = False
    reader: Principal | None = None
    source_org_id: int | None = None


@dataclass(slots=True)
class Outcome:
    """What happened to one submitted object."""

    id: str | None
    version: str | None
    status: str  # stored | duplicate | refused
    reason: str | None = None  # why it was refused; for a stored object, its values on warninglists
    date_added: int | None = None  # stored or duplicate: its tick in the target collection (else its seq)


@dataclass(slots=True)
class IngestReport:
    """Counts, the first refusal reasons, and (on request) every object's outcome."""

    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    stored_seqs: list[int] = field(default_factory=list)
    listed: int = 0  # stored objects holding values on active warninglists
    listed_examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Objects seen."""
        return self.stored + self.duplicates + self.refused

    def merge(self, other: IngestReport) -> None:
        """Add another report's figures to this one."""
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.refused += other.refused
        self.reasons.extend(other.reasons[: max(0, MAX_REASONS - len(self.reasons))])
        self.outcomes.extend(other.outcomes)
        self.stored_seqs.extend(other.stored_seqs)
        self.listed += other.listed
        self.listed_examples.extend(other.listed_examples[: max(0, MAX_REASONS - len(self.listed_examples))])


def _refuse(report: IngestReport, ctx: WriteContext, oid: str | None, reason: str, version: str | None = None) -> None:
    report.refused += 1
    if len(report.reasons) < MAX_REASONS:
        report.reasons.append(f"{oid or '(no id)'}: {reason}")
    if ctx.keep_outcomes:
        report.outcomes.append(Outcome(oid, version, "refused", reason))


def _owner_for(ref: str | None, ctx: WriteContext, orgs: dict[str, int]) -> tuple[int | None, str | None]:
    """W1: the owner of a submitted object, or the reason it is refused."""
    named = orgs.get(ref) if ref is not None else None
    owner = ctx.writer_org_id if ctx.source_org_id is None else ctx.source_org_id
    if named is None or named == owner:
        return owner, None
    if ctx.peer_id is not None and named in ctx.peer_org_ids:
        return named, None
    return None, (
        f"created_by_ref {ref} names another organisation; objects are owned by the organisation that writes them (W1)"
    )


def ingest(conn: Connection, objects: Iterable[Any], ctx: WriteContext) -> IngestReport:
    """Validate, version and store objects; the caller's transaction makes it atomic."""
    settings = get_settings()
    max_bytes, index = settings.max_object_bytes, settings.value_index
    wl = active_matcher() if index else None
    batches = (
        prepare_all(chunk, max_bytes, index=index, wl=wl) for chunk in _chunked(objects, settings.import_batch_size)
    )
    return ingest_prepared(conn, (item for batch in batches for item in batch), ctx)


def _chunked(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Consecutive lists of at most `size` items (the input is streamed, never held whole)."""
    chunk: list[_T] = []
    for obj in items:
        chunk.append(obj)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ingest_prepared(conn: Connection, items: Iterable[Prepared | Refused], ctx: WriteContext) -> IngestReport:
    """Version and store already-prepared objects in batches (see accord.store.prepare)."""
    return ingest_batches(conn, _chunked(items, get_settings().import_batch_size), ctx)


def ingest_batches(
    conn: Connection, batches: Iterable[Sequence[Prepared | Refused]], ctx: WriteContext
) -> IngestReport:
    """Version and store prepared objects batch by batch, each written before the next is asked for.

    A producer that prepares the next batch meanwhile (in another process) overlaps with the writes. Batches
    larger than import_batch_size are split.
    """
    size = get_settings().import_batch_size
    report = IngestReport()
    # Value-index rows wait for the end of the call (or INDEX_FLUSH rows), then go in as one sorted insert:
    # a B-tree filled in key order touches each page once, where batch by batch it revisits them all.
    pending = PendingRows()
    with gc_paused():
        repo.lock_writers(conn)
        orgs = repo.org_ids_by_identity(conn)
        for given in batches:
            for start in range(0, len(given), size):
                report.merge(_ingest_batch(conn, given[start : start + size], ctx, orgs, pending))
            if pending.versions >= INDEX_FLUSH:
                index_rows(conn, pending)
                indicator_values.insert(conn, pending.export_heads, pending.export_values)
        index_rows(conn, pending)
        indicator_values.insert(conn, pending.export_heads, pending.export_values)
        if report.stored:
            repo.ensure_statistics(conn)
            hooks.run(conn, report.stored_seqs)
    return report


def _ingest_batch(
    conn: Connection,
    items: Sequence[Prepared | Refused],
    ctx: WriteContext,
    orgs: dict[str, int],
    pending: PendingRows,
) -> IngestReport:
    report = IngestReport()
    candidates: list[Candidate] = []
    for item in items:
        if isinstance(item, Refused):
            _refuse(report, ctx, item.id, item.reason, item.version or None)
            continue
        owner, reason = _owner_for(item.created_by_ref, ctx, orgs)
        if owner is None:
            _refuse(report, ctx, item.id, reason or "refused", item.version)
            continue
        candidates.append((item, owner))
    if not candidates:
        return report
    stored = load_states(conn, candidates, ctx.peer_id)
    local = stored.rows and ctx.peer_id is None  # what arrives over a link always goes to its own copy
    foreign = foreign_states(conn, candidates, stored, ctx.reader, ctx.writer_org_id) if local else {}
    keep = ctx.keep_outcomes
    accepted: list[Accepted] = []
    accepted_outcomes: list[Outcome] = []
    at: dict[tuple[int, str, str], int] = {}  # (owner, id, version) accepted in this batch -> its place (outcomes)
    duplicate_seqs: list[int] = []
    duplicate_outcomes: list[tuple[Outcome, int, bool]] = []  # outcome, seq (or place in `accepted`), stored?
    current = candidates[0][1]
    states = stored.copy_of(current)  # a batch has one owner but over links: its states, looked up once
    several_owners = False
    for item, owner in candidates:
        if owner != current:
            current, several_owners = owner, True
            states = stored.copy_of(owner)
        st = states.get(item.id)
        if st is None and (st := foreign.get(item.id)) is None:
            # Neither stored nor earlier in this batch, and nothing the writer may read of it elsewhere: no
            # rule can refuse it (most of an import).
            states[item.id] = st = CopyState()
            st.accept(item, owner)
            reason = None
        else:
            reason = decide(st, item, owner)
        if reason == "duplicate":
            report.duplicates += 1
            seq = st.versions[item.version][1]
            if seq is not None:
                duplicate_seqs.append(seq)
            if keep:
                outcome = Outcome(item.id, item.version, "duplicate")
                report.outcomes.append(outcome)
                if seq is not None:
                    duplicate_outcomes.append((outcome, seq, True))
                else:
                    duplicate_outcomes.append((outcome, at[(owner, item.id, item.version)], False))
        elif reason is not None:
            _refuse(report, ctx, item.id, reason, item.version)
        else:
            if keep:
                at[(owner, item.id, item.version)] = len(accepted)
            accepted.append((item, owner, st))
            report.stored += 1
            note = None
            if item.listed:
                note = listed_note(item.listed)
                report.listed += 1
                if len(report.listed_examples) < MAX_REASONS:
                    report.listed_examples.append(f"{item.id}: {note}")
            if keep:
                outcome = Outcome(item.id, item.version, "stored", note)
                report.outcomes.append(outcome)
                accepted_outcomes.append(outcome)
    # Only where something of these ids is stored, or owners differ, can an id end up in several copies.
    shared = shared_ids(stored, accepted, ctx.peer_id) if stored.rows or several_owners else {}
    if shared and stored.rows:  # copies new in this batch make every stored copy of their id one of several
        repo.mark_shared(conn, shared)
    added, member_added = _write(conn, accepted, duplicate_seqs, ctx, report, pending, shared)
    if keep:
        for outcome, when in zip(accepted_outcomes, added, strict=True):
            outcome.date_added = when
        for outcome, ref, was_stored in duplicate_outcomes:
            outcome.date_added = member_added.get(ref, ref) if was_stored else added[ref]
    return report


def listed_note(listed: Sequence[Flag]) -> str:
    """One line naming an object's values on warninglists, and the lists."""
    shown = "; ".join(f"{value} ({', '.join(names)})" for _, value, names in listed[:3])
    more = f"; and {len(listed) - 3} more" if len(listed) > 3 else ""
    return f"on warninglists: {shown}{more}"


def _write(
    conn: Connection,
    accepted: list[Accepted],
    duplicate_seqs: list[int],
    ctx: WriteContext,
    report: IngestReport,
    pending: PendingRows,
    shared: dict[str, int],
) -> tuple[list[int], dict[int, int]]:
    """Store the accepted versions and memberships; their value-index rows go to `pending`.

    Returns when each accepted version was added (its tick in the target collection, else its seq), and the
    ticks in the target collection of the duplicates' versions.
    """
    member_added: dict[int, int] = {}
    new_members: list[int] = []
    if ctx.collection_id is not None and duplicate_seqs:
        member_added = repo.member_ticks(conn, ctx.collection_id, duplicate_seqs)
        new_members = [s for s in dict.fromkeys(duplicate_seqs) if s not in member_added]
    count = len(accepted) + (len(accepted) if ctx.collection_id is not None else 0) + len(new_members)
    if count == 0:
        return [], member_added
    tick = repo.allocate_ticks(conn, count)
    peer_id = ctx.peer_id
    rows: list[tuple[Any, ...]] = []
    append, add, add_words = rows.append, pending.add, pending.add_words
    heads, exported_values = pending.export_heads, pending.export_values
    touched: dict[int, CopyState] = {}  # the copies written to, by id() of their state
    for seq, (item, owner, st) in enumerate(accepted, tick):
        # Unpacked once (13 attribute lookups of a named tuple cost more than building the row).
        oid, otype, version, created, spec_version, revoked, tlp, _, raw, body_hash, key, values, _, exported, words = (
            item
        )
        versions = st.versions
        # The newest version of each touched copy decides is_latest (a new object has one version).
        latest = len(versions) == 1 or version == max(versions)
        touched[id(st)] = st
        append(
            (
                seq,
                oid,
                key,
                otype,
                version,
                created,
                spec_version,
                revoked,
                latest,
                owner,
                tlp,
                peer_id,
                body_hash,
                raw,
                oid not in shared,
            )
        )
        if values or words:
            add(seq, values)
            if words:
                add_words(seq, words)
        if exported:
            heads.append((seq, *exported[0]))
            exported_values += [(seq, *row) for row in exported[1:]]
    tick += len(rows)
    stale = [
        st.latest_seq for st in touched.values() if st.latest_seq is not None and st.latest_version != max(st.versions)
    ]
    repo.insert_versions(conn, rows)
    repo.clear_latest(conn, stale)
    seqs = range(tick - len(rows), tick)
    report.stored_seqs.extend(seqs)
    added = list(seqs)
    daily.count_new(conn, list(map(_DAILY_FACTS, rows)), ctx.collection_id, ctx.writer_org_id)
    if ctx.collection_id is not None:
        cid, writer = ctx.collection_id, ctx.writer_org_id
        repo.insert_stored_memberships(conn, cid, seqs, writer, offset=len(rows))
        added = [seq + len(rows) for seq in seqs]
        tick += len(rows)
        repo.insert_memberships(conn, [(tick + i, cid, seq, writer) for i, seq in enumerate(new_members)])
        member_added.update((seq, tick + i) for i, seq in enumerate(new_members))
    return added, member_added
