"""Jobs whose process died mid-run: taken again at once, run once, given up if they keep killing their process."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from accord.core import settings
from accord.models.jobs import job, taxii_status
from accord.models.objects import stix_object
from accord.worker.runner import MAX_ATTEMPTS, claim, run_one, run_pending
from tests.builders import make_indicator
from tests.integration.taxii.conftest import post_envelope


def _queue_envelope(client: Any, community: Any, monkeypatch: pytest.MonkeyPatch, n: int) -> tuple[str, list[str]]:
    monkeypatch.setenv("ACCORD_TAXII_INLINE_MAX_OBJECTS", "1")
    settings.get_settings.cache_clear()
    objects = [make_indicator() for _ in range(n)]
    url = community.url(community.shared, "objects/")
    status = post_envelope(client, community.auth["alice"], url, *objects).json()
    assert status["status"] == "pending"
    return status["id"], [o["id"] for o in objects]


def _stored(engine: Engine, ids: list[str]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(stix_object.c.id.in_(ids))).scalar_one())


def test_a_job_left_running_by_a_dead_process_runs_again_at_once(client, community, engine, monkeypatch) -> None:
    status_id, ids = _queue_envelope(client, community, monkeypatch, 3)
    assert claim(engine) is not None  # ... and the process dies before running it: "running", nothing stored
    assert _stored(engine, ids) == 0
    assert run_pending(engine, 10) == 1
    assert _stored(engine, ids) == 3
    with engine.connect() as conn:
        assert conn.execute(select(job.c.status, job.c.attempts)).one() == ("done", 2)
        assert conn.execute(select(taxii_status.c.status).where(taxii_status.c.id == status_id)).scalar() == "complete"


def test_a_job_taken_by_two_runners_commits_once(client, community, engine, monkeypatch) -> None:
    _, ids = _queue_envelope(client, community, monkeypatch, 3)
    first = claim(engine)
    second = claim(engine)  # the first looked abandoned (on SQLite nothing holds it; on PostgreSQL its row is free)
    assert first is not None
    assert second is not None
    assert first.id == second.id
    assert run_one(engine, first) is False  # taken over: it leaves the job
    assert run_one(engine, second) is True
    assert run_one(engine, second) is False  # done already
    assert _stored(engine, ids) == 3
    assert run_pending(engine, 10) == 0


def test_a_job_that_kills_its_process_every_time_is_given_up(client, community, engine, monkeypatch) -> None:
    status_id, ids = _queue_envelope(client, community, monkeypatch, 2)
    for _ in range(MAX_ATTEMPTS):
        assert claim(engine) is not None  # each time the process dies while running it
    assert claim(engine) is None
    with engine.connect() as conn:
        assert conn.execute(select(job.c.status)).scalar() == "failed"
        status = conn.execute(select(taxii_status).where(taxii_status.c.id == status_id)).one()
    assert (status.status, status.failure_count, status.pending_count) == ("complete", 2, 0)
    assert _stored(engine, ids) == 0
    with engine.begin() as conn:  # a failed job stays failed
        conn.execute(update(job).values(run_after_us=0))
    assert run_pending(engine, 10) == 0
