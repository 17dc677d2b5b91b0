"""The "taxii.add_objects" job: store a large envelope queued by POST objects and complete its status."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection

from accord.audit.service import record
from accord.federation.links import PUSHED, inbound_link, note_receipts
from accord.sharing.policy import Role
from accord.sharing.repository import principal_for
from accord.store.pipeline import pipeline_for
from accord.store.service import ingest_batches
from accord.taxii import repository as repo
from accord.taxii.writes import complete_values, prepared_batches, purge_statuses, read_job_payload, write_context


def run_add_objects(conn: Connection, payload: bytes) -> None:
    """Ingest the queued objects and mark the status complete, in the caller's transaction.

    The envelope is read one slice at a time (accord.taxii.envelope): what is held parsed at once is a slice's
    objects, prepared and written before the next slice is parsed. The transaction still spans the whole
    envelope, so it is stored wholly or not at all."""
    data, envelope = read_job_payload(payload)
    status_id = data["status_id"]
    if repo.get_status(conn, status_id) is None:
        return  # the status was purged: nobody is waiting for it
    # The writer as the policy knows it now: what it may read of other copies decides its write (W3).
    reader = principal_for(conn, org_id=data["writer_org_id"], role=data.get("role", Role.ANALYST.value))
    link = inbound_link(conn, reader)
    ctx = write_context(conn, reader, data["collection_id"], envelope.objects(), link)
    report = ingest_batches(conn, prepared_batches(envelope, pipeline_for(conn)), ctx)
    if link is not None:
        note_receipts(conn, link.id, report, sub_id=None, remote_collection=PUSHED)
    repo.update_status(conn, status_id, complete_values(report))
    purge_statuses(conn)
    actor = data.get("email") or f"org:{data['writer_org_id']}"
    record(
        conn,
        actor,
        "taxii.add_objects.done",
        str(data["collection_id"]),
        status=status_id,
        stored=report.stored,
        duplicates=report.duplicates,
        refused=report.refused,
    )


def fail_add_objects(conn: Connection, payload: bytes, message: str) -> None:
    """Give up on a job: every pending object becomes a failure with the message."""
    data, _ = read_job_payload(payload)
    row = repo.get_status(conn, data["status_id"])
    if row is None or row.status == "complete":
        return
    pendings = orjson.loads(row.detail).get("pendings", [])
    failures = [{**p, "message": message} for p in pendings]
    repo.update_status(
        conn,
        row.id,
        {
            "status": "complete",
            "success_count": 0,
            "failure_count": len(failures),
            "pending_count": 0,
            "detail": orjson.dumps({"successes": [], "failures": failures, "pendings": []}),
        },
    )
