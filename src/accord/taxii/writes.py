"""TAXII 2.1 writes: add objects (inline or queued), status resources, delete an object from a collection."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import Forbidden, NotFound
from accord.core.perf import gc_paused
from accord.core.settings import get_settings
from accord.federation.links import PUSHED, link_context, note_receipts
from accord.jobs.repository import enqueue_job
from accord.sharing.policy import Principal
from accord.stix.timestamps import micros_to_timestamp
from accord.store.pipeline import Pipeline, pipeline_for, prepare_in_batches
from accord.store.prepare import Prepared, Refused
from accord.store.repository import delete_memberships
from accord.store.service import IngestReport, WriteContext, ingest_batches
from accord.taxii import repository as repo
from accord.taxii.envelope import Envelope
from accord.taxii.filters import Filters
from accord.taxii.service import get_collection, may_write, readable_collection, version_of

ADD_OBJECTS_JOB = "taxii.add_objects"
# TAXII 2.1 asks servers to keep status resources for at least 24 hours. ACCORD_TAXII_STATUS_RETENTION_HOURS
# may lengthen that, never shorten it.
MIN_STATUS_RETENTION_HOURS = 24
PURGE_INTERVAL_S = 60.0
_last_purge = 0.0


def status_retention_us() -> int:
    """How long status resources are kept (µs): the configured hours, at least 24."""
    return max(get_settings().taxii_status_retention_hours, MIN_STATUS_RETENTION_HOURS) * 3_600_000_000


def _outcome_lists(report: IngestReport) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    successes: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    for o in report.outcomes:
        entry = {"id": o.id or ""}
        # Unversioned objects (some SCOs) are versioned by their date_added; a refusal has neither.
        version = o.version if o.date_added is None else version_of(o.version or "", o.date_added)
        if version:
            entry["version"] = version
        if o.status == "refused":
            entry["message"] = o.reason or "refused"
            failures.append(entry)
        else:  # stored, or an exact duplicate of a stored version: both are successes
            if o.reason:  # a stored object holding values on warninglists says which
                entry["message"] = o.reason
            successes.append(entry)
    return successes, failures


def complete_values(report: IngestReport) -> dict[str, Any]:
    """The status columns of a finished request."""
    successes, failures = _outcome_lists(report)
    return {
        "status": "complete",
        "success_count": len(successes),
        "failure_count": len(failures),
        "pending_count": 0,
        "detail": orjson.dumps({"successes": successes, "failures": failures, "pendings": []}),
    }


def write_context(
    conn: Connection, principal: Principal, collection_id: int, objects: Iterable[Any], link: Any | None
) -> WriteContext:
    """How a TAXII writer's objects are stored. `link` is the peer link they arrive over (inbound_link, looked up
    in this unit of work) when the writer is a peer's sync account (accord.federation.links): then they are that
    peer's, exactly as if we had pulled them."""
    if link is not None:
        actor = principal.email or f"org:{principal.org_id}"
        return link_context(conn, link, collection_id, objects, actor, keep_outcomes=True)
    return WriteContext(
        writer_org_id=principal.org_id, collection_id=collection_id, keep_outcomes=True, reader=principal
    )


def prepared_batches(envelope: Envelope, pipeline: Pipeline) -> Iterator[list[Prepared | Refused]]:
    """An envelope's objects prepared for the store, in order, one slice of the envelope parsed at a time."""
    for objects in envelope.batches():
        yield from prepare_in_batches(objects, pipeline)


def add_objects(
    conn: Connection, principal: Principal, collection_key: str, objects: list[Any] | Envelope, link: Any | None
) -> dict[str, Any]:
    """Store an envelope's objects (inline when small, else as a queued job); return the status resource.

    `link`: the writer's inbound_link, looked up in this unit of work (the caller checked the peer's signature
    with it); a queued job looks it up again when it runs, in its own unit of work. A queued job keeps the
    envelope's raw body and the slices it was read in (accord.taxii.envelope), never its parsed objects."""
    envelope = objects if isinstance(objects, Envelope) else Envelope.of(objects)
    coll = get_collection(conn, principal, collection_key)
    if not may_write(principal, coll.id):
        raise Forbidden("you may not write into this collection")
    status_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": status_id,
        "collection_id": coll.id,
        "org_id": principal.org_id,
        "request_us": now_us(),
        "total_count": envelope.count,
    }
    if envelope.count <= get_settings().taxii_inline_max_objects:
        ctx = write_context(conn, principal, coll.id, envelope.objects(), link)
        with gc_paused():  # prepared objects are acyclic: collector passes over them are pure cost
            report = ingest_batches(conn, prepared_batches(envelope, pipeline_for(conn)), ctx)
        if link is not None:
            note_receipts(conn, link.id, report, sub_id=None, remote_collection=PUSHED)
        values.update(complete_values(report))
        detail: dict[str, Any] = {"stored": report.stored, "duplicates": report.duplicates, "refused": report.refused}
    else:
        head = {
            "status_id": status_id,
            "collection_id": coll.id,
            "writer_org_id": principal.org_id,
            "role": principal.role.value,
            "user_id": principal.user_id,
            "email": principal.email,
            "spans": envelope.spans,
        }
        job_id = enqueue_job(conn, ADD_OBJECTS_JOB, job_payload(head, envelope.body))
        values.update(
            status="pending",
            success_count=0,
            failure_count=0,
            pending_count=envelope.count,
            detail=orjson.dumps({"successes": [], "failures": [], "pendings": envelope.pendings()}),
        )
        detail = {"queued": envelope.count, "job": job_id}
    repo.insert_status(conn, values)
    purge_statuses(conn)
    record(
        conn, principal.email or f"org:{principal.org_id}", "taxii.add_objects", coll.alias, status=status_id, **detail
    )
    return status_resource(SimpleNamespace(**values))


def job_payload(head: dict[str, Any], body: bytes | memoryview) -> bytes:
    """A queued envelope's job payload: a line of JSON (who, where, the slices), then the envelope's raw body."""
    return b"".join((orjson.dumps(head), b"\n", body))


def read_job_payload(payload: bytes) -> tuple[dict[str, Any], Envelope]:
    """What job_payload wrote: the head and the envelope (its slices parsed only as they are read). A payload
    queued before envelopes were kept raw (one JSON document with the parsed objects) is read too."""
    end = payload.find(b"\n")
    if end < 0:  # orjson writes no line breaks: a whole JSON document
        head = orjson.loads(payload)
        return head, Envelope.of(head.pop("objects"))
    head = orjson.loads(memoryview(payload)[:end])
    body = memoryview(payload)[end + 1 :]
    spans = head.get("spans")
    return head, Envelope.whole(body) if spans is None else Envelope.sliced(body, spans)


def purge_statuses(conn: Connection, *, force: bool = False) -> int:
    """Delete status resources older than the retention (at most about once a minute per process unless forced)."""
    global _last_purge
    now = time.monotonic()
    if not force and now - _last_purge < PURGE_INTERVAL_S:
        return 0
    _last_purge = now
    return repo.purge_statuses(conn, now_us() - status_retention_us())


def status_resource(row: Any) -> dict[str, Any]:
    """A status row as the TAXII status resource (empty lists omitted)."""
    detail = orjson.loads(row.detail)
    out: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "request_timestamp": micros_to_timestamp(row.request_us),
        "total_count": row.total_count,
        "success_count": row.success_count,
        "failure_count": row.failure_count,
        "pending_count": row.pending_count,
    }
    for key in ("successes", "failures", "pendings"):
        if detail.get(key):
            out[key] = detail[key]
    return out


def get_status(conn: Connection, principal: Principal, status_id: str) -> dict[str, Any]:
    """A status resource of the caller's organisation (admins: any); NotFound otherwise."""
    row = repo.get_status(conn, status_id)
    if row is None or not (principal.is_admin or row.org_id == principal.org_id):
        raise NotFound(f"no status {status_id!r}")
    return status_resource(row)


def delete_object(conn: Connection, principal: Principal, collection_key: str, object_id: str, f: Filters) -> int:
    """Remove the matching versions of an object from the collection (owner org or admin); audited.

    TAXII 2.1 scopes DELETE to the collection in the URL, so only this collection's memberships go: other
    collections keep the versions, and the versions stay stored (immutable history for W2, provenance, is_latest
    and correlation rows), readable afterwards only under R0/R1 unless still in another readable collection.
    Posting an identical version again puts it back (an exact duplicate is a success).
    """
    coll = readable_collection(conn, principal, collection_key)
    rows = repo.deletable(conn, principal, coll.id, object_id, f)
    if not rows:
        raise NotFound(f"no object {object_id!r} in this collection")
    # Other organisations' copies of the id stay (an SCO names a value each holder keeps for itself).
    mine = rows if principal.is_admin else [r for r in rows if r.owner_org_id == principal.org_id]
    if not mine:
        raise Forbidden("only the organisation that owns this object (or an admin) may delete it")
    if not principal.can_write:
        raise Forbidden("this token or role cannot write")
    removed = delete_memberships(conn, [r.tick for r in mine])
    record(
        conn,
        principal.email or f"org:{principal.org_id}",
        "taxii.delete_object",
        object_id,
        collection=coll.alias,
        versions=removed,
    )
    return removed
