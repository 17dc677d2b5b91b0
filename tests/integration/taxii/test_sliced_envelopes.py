"""Large envelopes are read in slices (accord.taxii.envelope): stored exactly as sent, wholly or not at all."""

from __future__ import annotations

import gc
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select, update

from accord.core import settings
from accord.models.jobs import job, taxii_status
from accord.models.objects import stix_object
from accord.taxii import writes
from accord.taxii.media import TAXII_MEDIA
from accord.worker.runner import run_pending
from tests.builders import make_indicator

SLICE_BYTES = 3_000  # about six of these objects a slice


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_TAXII_ENVELOPE_SLICE_BYTES", str(SLICE_BYTES))
    settings.get_settings.cache_clear()


def _objects(n: int) -> list[dict[str, Any]]:
    # Descriptions holding what a cut looks for: object ends, brackets, quotes.
    tricky = ['"},{"', "}, {", "{ unbalanced", "] [ ]]", 'say "hi"', "back\\slash"]
    return [make_indicator(description=f"{tricky[i % len(tricky)]} {'x' * 300}") for i in range(n)]


def _post(client: Any, community: Any, objects: list[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    body = orjson.dumps({"more": False, "objects": objects})
    headers = {**community.auth["alice"], "Content-Type": TAXII_MEDIA}
    response = client.post(community.url(community.shared, "objects/"), content=body, headers=headers)
    assert response.status_code == 202, response.text
    return body, response.json()


def _stored(engine: Engine, ids: list[str]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(stix_object.c.id.in_(ids))).scalar_one())


def _read_back(client: Any, community: Any) -> list[dict[str, Any]]:
    url = community.url(community.shared, "objects/?limit=1000")
    return client.get(url, headers=community.auth["alice"]).json().get("objects", [])


def test_a_queued_envelope_keeps_its_raw_body_and_is_stored_slice_by_slice(
    client, community, engine, monkeypatch, small_slices
) -> None:
    monkeypatch.setenv("ACCORD_TAXII_INLINE_MAX_OBJECTS", "10")
    settings.get_settings.cache_clear()
    objects = _objects(40)
    body, status = _post(client, community, objects)
    assert status["status"] == "pending"
    assert status["pending_count"] == status["total_count"] == 40
    assert [p["id"] for p in status["pendings"]] == [o["id"] for o in objects]
    with engine.connect() as conn:
        payload = bytes(conn.execute(select(job.c.payload)).scalar_one())
    assert payload.endswith(b"\n" + body)  # the envelope as sent, not parsed and written again
    assert len(orjson.loads(payload[: payload.index(b"\n")])["spans"]) > 5

    assert run_pending(engine, 10) == 1
    done = client.get(f"/taxii2/api/status/{status['id']}/", headers=community.auth["alice"]).json()
    assert (done["status"], done["success_count"], done["failure_count"]) == ("complete", 40, 0)
    assert _read_back(client, community) == objects


def test_a_large_envelope_stored_inline_is_read_in_slices_too(client, community, engine, small_slices) -> None:
    objects = _objects(30)  # fewer than taxii_inline_max_objects: stored before the answer
    _, status = _post(client, community, objects)
    assert (status["status"], status["success_count"]) == ("complete", 30)
    assert _read_back(client, community) == objects


def test_a_job_failing_in_a_later_slice_stores_nothing_of_its_envelope(
    client, community, engine, monkeypatch, small_slices
) -> None:
    monkeypatch.setenv("ACCORD_TAXII_INLINE_MAX_OBJECTS", "10")
    settings.get_settings.cache_clear()
    objects = _objects(40)
    _, status = _post(client, community, objects)
    real = writes.prepare_in_batches
    slices = []

    def failing_on_the_fourth(batch: list[Any], pipeline: Any) -> Any:
        slices.append(len(batch))
        if len(slices) == 4:
            raise OSError("the disk went away")
        return real(batch, pipeline)

    monkeypatch.setattr(writes, "prepare_in_batches", failing_on_the_fourth)
    assert run_pending(engine, 10) == 1
    assert len(slices) == 4  # three slices were written in the job's transaction before it failed
    assert _stored(engine, [o["id"] for o in objects]) == 0
    with engine.begin() as conn:
        assert conn.execute(select(taxii_status.c.status).where(taxii_status.c.id == status["id"])).scalar() == (
            "pending"
        )
        conn.execute(update(job).values(run_after_us=0))  # its retry, without the back-off

    monkeypatch.setattr(writes, "prepare_in_batches", real)
    assert run_pending(engine, 10) == 1
    assert _stored(engine, [o["id"] for o in objects]) == 40
    assert _read_back(client, community) == objects


def test_a_sliced_envelope_that_is_not_json_is_refused_and_stores_nothing(
    client, community, engine, small_slices
) -> None:
    objects = _objects(20)
    body = orjson.dumps({"objects": objects})
    between = body.index(b'},{"type"', len(body) // 2) + 2  # between two objects, outside every string
    broken = body[:between] + b"]" + body[between:]
    headers = {**community.auth["alice"], "Content-Type": TAXII_MEDIA}
    response = client.post(community.url(community.shared, "objects/"), content=broken, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == TAXII_MEDIA
    assert _stored(engine, [o["id"] for o in objects]) == 0


def _large_buffers_held(min_size: int) -> int:
    """Buffers (bytes, memoryviews) of at least `min_size` bytes that some live container holds."""
    seen = set()
    for holder in gc.get_objects():
        for item in gc.get_referents(holder):
            if isinstance(item, (bytes, bytearray, memoryview)) and len(item) >= min_size:
                seen.add(id(item))
    return len(seen)


def test_nothing_keeps_a_stored_envelope_or_its_status_in_memory(client, community, engine, monkeypatch) -> None:
    # Statements of a queued envelope (its job's payload, its status's list of pendings and outcomes) are each
    # the first of their shape here: the engine's statement cache would keep them, and their values, for good.
    monkeypatch.setenv("ACCORD_TAXII_INLINE_MAX_OBJECTS", "10")
    settings.get_settings.cache_clear()
    objects = _objects(200)
    size = len(orjson.dumps(objects)) // 10  # the status lists alone are larger than this
    gc.collect()
    before = _large_buffers_held(size)
    _, status = _post(client, community, objects)
    assert run_pending(engine, 10) == 1
    del objects
    gc.collect()
    assert _large_buffers_held(size) == before
    done = client.get(f"/taxii2/api/status/{status['id']}/", headers=community.auth["alice"]).json()
    assert done["success_count"] == 200
