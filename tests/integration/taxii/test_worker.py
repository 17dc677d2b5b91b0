"""The job runner: queued envelopes complete; failing jobs are retried, then fail their status visibly."""

from __future__ import annotations

import threading
import time
import uuid

import orjson
from sqlalchemy import select, update

from accord.jobs.repository import enqueue_job
from accord.models.jobs import job, taxii_status
from accord.taxii import repository as repo
from accord.worker.runner import MAX_ATTEMPTS, run_forever, run_pending
from tests.builders import make_indicator
from tests.integration.taxii.conftest import post_envelope


def _queue_broken_job(engine, org_id: int) -> str:
    status_id = str(uuid.uuid4())
    obj = make_indicator()
    with engine.begin() as conn:
        repo.insert_status(
            conn,
            {
                "id": status_id,
                "collection_id": 999_999,
                "org_id": org_id,
                "status": "pending",
                "request_us": 1,
                "total_count": 1,
                "success_count": 0,
                "failure_count": 0,
                "pending_count": 1,
                "detail": orjson.dumps({"pendings": [{"id": obj["id"], "version": obj["modified"]}]}),
            },
        )
        payload = {"status_id": status_id, "collection_id": 999_999, "writer_org_id": org_id, "objects": [obj]}
        enqueue_job(conn, "taxii.add_objects", orjson.dumps(payload))
    return status_id


def test_failing_job_is_retried_then_marks_its_status_failed(engine, community):
    status_id = _queue_broken_job(engine, community.orgs["alpha"].id)  # no such collection: the insert fails
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run_pending(engine, 10) == 1
        with engine.begin() as conn:
            row = conn.execute(select(job)).one()
            assert row.attempts == attempt
            assert row.last_error
            conn.execute(update(job).values(run_after_us=0))  # skip the back-off
    assert run_pending(engine, 10) == 0
    with engine.connect() as conn:
        assert conn.execute(select(job.c.status)).scalar_one() == "failed"
        status = conn.execute(select(taxii_status).where(taxii_status.c.id == status_id)).one()
    assert status.status == "complete"
    assert status.failure_count == 1
    assert status.pending_count == 0


def test_background_runner_completes_queued_envelopes(client, community, engine, monkeypatch):
    from accord.core import settings

    monkeypatch.setenv("ACCORD_TAXII_INLINE_MAX_OBJECTS", "1")
    settings.get_settings.cache_clear()
    url = community.url(community.shared, "objects/")
    status = post_envelope(client, community.auth["alice"], url, make_indicator(), make_indicator()).json()
    assert status["status"] == "pending"
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(engine, stop, 0.05))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = client.get(f"/taxii2/api/status/{status['id']}/", headers=community.auth["alice"]).json()
            if body["status"] == "complete":
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert body["status"] == "complete"
    assert body["success_count"] == 2
