"""The STIX 2.1 object store: validates and versions objects, then writes them in bulk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.core.settings import get_settings
from accord.stix.markings import tlp_of
from accord.stix.timestamps import normalize_timestamp
from accord.stix.validate import object_version, validate_object
from accord.store import repository as repo

MAX_REASONS = 20


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, where to, and over which link (W1, W2, provenance)."""

    writer_org_id: int
    collection_id: int | None = None
    peer_id: int | None = None
    peer_org_ids: frozenset[int] = frozenset()  # organisations the peer node speaks for (W1 exception)
    keep_outcomes: bool = False


@dataclass(slots=True)
class Outcome:
    """What happened to one submitted object."""

    id: str | None
    version: str | None
    status: str  # stored | duplicate | refused
    reason: str | None = None


@dataclass(slots=True)
class IngestReport:
    """Counts, the first refusal reasons, and (on request) every object's outcome."""

    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    stored_seqs: list[int] = field(default_factory=list)

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


@dataclass(slots=True)
class _Candidate:
    obj: dict[str, Any]
    id: str
    type: str
    version: str
    raw: bytes
    body_hash: bytes
    owner: int
    revoked: bool
    index: int  # position in the submitted batch


@dataclass(slots=True)
class _ObjectState:
    owner: int | None = None
    versions: dict[str, tuple[bytes, int | None]] = field(default_factory=dict)  # version -> (hash, seq)
    latest_seq: int | None = None
    latest_version: str | None = None
    revoked_at: str | None = None


def _refuse(report: IngestReport, ctx: WriteContext, obj: Any, reason: str, version: str | None = None) -> None:
    report.refused += 1
    oid = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
    if len(report.reasons) < MAX_REASONS:
        report.reasons.append(f"{oid or '(no id)'}: {reason}")
    if ctx.keep_outcomes:
        report.outcomes.append(Outcome(oid, version, "refused", reason))


def _owner_for(obj: dict[str, Any], ctx: WriteContext, orgs: dict[str, int]) -> tuple[int | None, str | None]:
    """W1: the owner of a submitted object, or the reason it is refused."""
    ref = obj.get("created_by_ref")
    named = orgs.get(ref) if isinstance(ref, str) else None
    if named is None or named == ctx.writer_org_id:
        return ctx.writer_org_id, None
    if ctx.peer_id is not None and named in ctx.peer_org_ids:
        return named, None
    return None, (
        f"created_by_ref {ref} names another organisation; objects are owned by the organisation that "
        "writes them (W1)"
    )


def ingest(conn: Connection, objects: Iterable[Any], ctx: WriteContext) -> IngestReport:
    """Validate, version and store objects in batches; the caller's transaction makes it atomic."""
    settings = get_settings()
    report = IngestReport()
    orgs = repo.org_ids_by_identity(conn)
    batch: list[Any] = []
    for obj in objects:
        batch.append(obj)
        if len(batch) >= settings.import_batch_size:
            report.merge(_ingest_batch(conn, batch, ctx, orgs, settings.max_object_bytes))
            batch = []
    if batch:
        report.merge(_ingest_batch(conn, batch, ctx, orgs, settings.max_object_bytes))
    return report


def _prepare(
    objects: list[Any], ctx: WriteContext, orgs: dict[str, int], max_bytes: int, report: IngestReport
) -> list[_Candidate]:
    candidates: list[_Candidate] = []
    dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    for index, obj in enumerate(objects):
        reason = validate_object(obj)
        if reason is not None:
            _refuse(report, ctx, obj, reason)
            continue
        raw = dumps(obj, option=sort_keys)
        if len(raw) > max_bytes:
            _refuse(report, ctx, obj, f"object is {len(raw):,} bytes; the limit is {max_bytes:,} bytes")
            continue
        owner, reason = _owner_for(obj, ctx, orgs)
        if owner is None:
            _refuse(report, ctx, obj, reason or "refused")
            continue
        candidates.append(
            _Candidate(
                obj=obj,
                id=obj["id"],
                type=obj["type"],
                version=object_version(obj),
                raw=raw,
                body_hash=hashlib.blake2b(raw, digest_size=16).digest(),
                owner=owner,
                revoked=obj.get("revoked") is True,
                index=index,
            )
        )
    return candidates


def _load_states(conn: Connection, candidates: list[_Candidate]) -> dict[str, _ObjectState]:
    states: dict[str, _ObjectState] = {}
    ids = list({c.id for c in candidates})
    for row in repo.existing_versions(conn, ids):
        st = states.setdefault(row.id, _ObjectState())
        st.owner = row.owner_org_id
        st.versions[row.version] = (row.body_hash, row.seq)
        if row.is_latest:
            st.latest_seq, st.latest_version = row.seq, row.version
        if row.revoked and (st.revoked_at is None or row.version < st.revoked_at):
            st.revoked_at = row.version
    return states


def _ingest_batch(
    conn: Connection, objects: list[Any], ctx: WriteContext, orgs: dict[str, int], max_bytes: int
) -> IngestReport:
    report = IngestReport()
    candidates = _prepare(objects, ctx, orgs, max_bytes, report)
    if not candidates:
        return report
    states = _load_states(conn, candidates)
    accepted: list[_Candidate] = []
    duplicate_seqs: list[int] = []
    for cand in candidates:
        st = states.setdefault(cand.id, _ObjectState())
        known = st.versions.get(cand.version)
        if known is not None:
            if known[0] == cand.body_hash:
                report.duplicates += 1
                if known[1] is not None:
                    duplicate_seqs.append(known[1])
                if ctx.keep_outcomes:
                    report.outcomes.append(Outcome(cand.id, cand.version, "duplicate"))
            elif cand.version:
                _refuse(
                    report,
                    ctx,
                    cand.obj,
                    f"a different body is already stored for version {cand.version}; "
                    "a changed object needs a new modified timestamp",
                    cand.version,
                )
            else:
                _refuse(report, ctx, cand.obj, "a different body is already stored (this object type is not "
                        "versioned: it has one version)")
            continue
        if st.owner is not None and st.owner != cand.owner:
            _refuse(report, ctx, cand.obj, "only the owner organisation may create new versions (W2)",
                    cand.version)
            continue
        if st.revoked_at is not None and cand.version > st.revoked_at:
            _refuse(report, ctx, cand.obj, f"object was revoked in version {st.revoked_at}; "
                    "no later versions are accepted", cand.version)
            continue
        if st.versions and not cand.version:
            _refuse(report, ctx, cand.obj, "this object type is not versioned and is already stored",
                    cand.version)
            continue
        st.owner = cand.owner
        st.versions[cand.version] = (cand.body_hash, None)
        if cand.revoked and (st.revoked_at is None or cand.version < st.revoked_at):
            st.revoked_at = cand.version
        accepted.append(cand)
        report.stored += 1
        if ctx.keep_outcomes:
            report.outcomes.append(Outcome(cand.id, cand.version, "stored"))
    _write(conn, accepted, duplicate_seqs, states, ctx, report)
    return report


def _write(
    conn: Connection,
    accepted: list[_Candidate],
    duplicate_seqs: list[int],
    states: dict[str, _ObjectState],
    ctx: WriteContext,
    report: IngestReport,
) -> None:
    new_members: list[int] = []
    if ctx.collection_id is not None and duplicate_seqs:
        already = repo.member_seqs(conn, ctx.collection_id, duplicate_seqs)
        new_members = [s for s in dict.fromkeys(duplicate_seqs) if s not in already]
    count = len(accepted) + (len(accepted) if ctx.collection_id is not None else 0) + len(new_members)
    if count == 0:
        return
    tick = repo.allocate_ticks(conn, count)
    # The newest version of each touched object decides is_latest.
    newest: dict[str, str] = {}
    for cand in accepted:
        st = states[cand.id]
        top = max(st.versions)
        newest[cand.id] = top
    rows: list[dict[str, Any]] = []
    for cand in accepted:
        created = cand.obj.get("created")
        rows.append(
            {
                "seq": tick,
                "id": cand.id,
                "type": cand.type,
                "version": cand.version,
                "created": normalize_timestamp(created) if isinstance(created, str) else None,
                "spec_version": cand.obj.get("spec_version") or "2.1",
                "revoked": cand.revoked,
                "is_latest": cand.version == newest[cand.id],
                "owner_org_id": cand.owner,
                "tlp": tlp_of(cand.obj),
                "peer_id": ctx.peer_id,
                "body_hash": cand.body_hash,
                "raw": cand.raw,
            }
        )
        tick += 1
    stale = [
        st.latest_seq
        for oid, st in states.items()
        if oid in newest and st.latest_seq is not None and st.latest_version != newest[oid]
    ]
    repo.insert_versions(conn, rows)
    repo.clear_latest(conn, stale)
    report.stored_seqs.extend(r["seq"] for r in rows)
    if ctx.collection_id is not None:
        members = []
        for seq in [r["seq"] for r in rows] + new_members:
            members.append(
                {"tick": tick, "collection_id": ctx.collection_id, "object_seq": seq,
                 "added_by_org_id": ctx.writer_org_id}
            )
            tick += 1
        repo.insert_memberships(conn, members)
