"""Large envelopes are prepared partly by a helper process: the result is exactly the sequential one."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import orjson
import pytest

from accord.core import helpers as helper_pool
from accord.core.settings import get_settings
from accord.correlate.warninglists import active_matcher
from accord.store import pipeline as parallel
from accord.store.prepare import Prepared, Refused, prepare_all, unpack
from tests.builders import make_indicator, make_ipv4


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(helper_pool, "helper_count", lambda: 1)
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 4)
    helper_pool.shutdown()
    yield
    helper_pool.shutdown()


def _wait_ready() -> None:
    assert helper_pool.wait_ready(60), "the helper process never became ready"


def _envelope() -> list[object]:
    objs: list[object] = [make_indicator() for _ in range(6)]
    objs += [
        make_ipv4("198.51.100.7"),
        make_indicator(value="8.8.8.8"),
        {"type": "indicator", "id": "bad"},
        "not an object",
        {"spec_version": 2},
    ]
    objs += [make_indicator(name=f"ünïcode {i}", confidence=i) for i in range(6)]
    # In the helper's part: a NUL (refused) and a backslash followed by the text u0000 (stored).
    return [*objs, make_indicator(description="a \\u0000 b"), make_indicator(description="a \u0000 b")]


def _sequential(objs: list[object]) -> list[Prepared | Refused]:
    """What preparing the objects in this process alone gives."""
    settings = get_settings()
    return prepare_all(objs, settings.max_object_bytes, index=settings.value_index, wl=active_matcher())


def _start_helper(objs: list[object]) -> None:
    """A first large envelope starts the helper (prepared here meanwhile); wait until it is ready."""
    parallel.prepare_objects(objs)
    _wait_ready()


def test_helper_result_equals_sequential(db_url, helpers):
    objs = _envelope()
    expected = _sequential(objs)
    assert any(item.listed for item in expected if hasattr(item, "listed"))  # 8.8.8.8 is flagged
    assert [type(item) for item in expected[-2:]] == [Prepared, Refused]  # the NUL is refused
    assert parallel.prepare_objects(objs) == expected  # first call: helper starting, prepared here
    _wait_ready()
    assert parallel.prepare_objects(objs) == expected
    assert any(h.ready for h in helper_pool._helpers)


def test_a_dead_helper_falls_back_and_is_replaced(db_url, helpers):
    objs = _envelope()
    expected = _sequential(objs)
    _start_helper(objs)
    for helper in helper_pool._helpers:
        helper.proc.kill()
        helper.proc.wait()
    assert parallel.prepare_objects(objs) == expected
    _wait_ready()
    assert parallel.prepare_objects(objs) == expected


def test_small_envelopes_never_start_helpers(db_url, monkeypatch: pytest.MonkeyPatch):
    helper_pool.shutdown()
    monkeypatch.setattr(helper_pool, "helper_count", lambda: 1)
    parallel.prepare_objects([make_indicator() for _ in range(3)])
    assert helper_pool._helpers == []


@pytest.mark.parametrize(
    ("task", "reason"),
    [("accord.core.helpers:no_such_task", "no_such_task"), ("os:system", "not a helper task")],
)
def test_a_failing_task_is_reported_and_the_helper_stays_usable(db_url, helpers, task, reason):
    assert helper_pool.wait_ready()
    pending = helper_pool.submit(task, b"true")
    assert pending is not None
    with pytest.raises(helper_pool.HelperError, match=reason):
        pending.result()
    objs = _envelope()
    assert parallel.prepare_objects(objs) == _sequential(objs)
    assert len(helper_pool._helpers) == 1
    assert helper_pool._helpers[0].alive()


def test_a_stuck_helper_is_stopped_and_the_work_done_here(db_url, helpers, monkeypatch: pytest.MonkeyPatch):
    objs = _envelope()
    expected = _sequential(objs)
    _start_helper(objs)
    [stuck] = helper_pool._helpers
    monkeypatch.setattr(helper_pool, "ANSWER_TIMEOUT", 0.5)
    os.kill(stuck.proc.pid, signal.SIGSTOP)  # alive, but never answers
    try:
        started = time.monotonic()
        assert parallel.prepare_objects(objs) == expected
        assert time.monotonic() - started < 10
        assert stuck not in helper_pool._helpers
        assert stuck.proc.wait(timeout=10) is not None  # stopped for good, not left behind
    finally:
        if stuck.proc.poll() is None:
            stuck.proc.kill()
    _wait_ready()
    assert parallel.prepare_objects(objs) == expected


def test_the_head_comes_first_and_the_helper_streams_the_rest_in_parts(db_url, helpers):
    objs = _envelope()
    expected = _sequential(objs)
    _start_helper(objs)
    for pipeline in (parallel.IN_PROCESS, parallel.OVER_THE_WIRE):
        batches = list(parallel.prepare_batches(objs, pipeline=pipeline))
        head = int(len(objs) * pipeline.head_share)
        assert len(batches) == 1 + pipeline.tail_parts
        assert len(batches[0]) == head
        assert [len(b) for b in batches[1:]] == [len(p) for p in parallel._parts(objs[head:], pipeline.tail_parts)]
        assert [item for batch in batches for item in batch] == expected
    assert helper_pool._helpers[0].alive()  # the stream was read to its end: the helper stays in service


@pytest.mark.parametrize("read", [1, 2])  # the head only, or the head and the helper's first part
def test_a_writer_that_stops_early_releases_the_helper(db_url, helpers, read):
    objs = _envelope()
    _start_helper(objs)
    [helper] = helper_pool._helpers
    batches = parallel.prepare_batches(objs)
    for _ in range(read):
        next(batches)
    batches.close()  # the writer failed: the rest of the answers will never be read
    assert helper not in helper_pool._helpers
    assert helper.proc.wait(timeout=10) is not None
    _wait_ready()  # a new helper takes its place
    assert parallel.prepare_objects(objs) == _sequential(objs)


def test_a_stream_that_fails_midway_gives_its_parts_then_the_error(db_url, helpers):
    assert helper_pool.wait_ready()
    # Two parts: the first is empty and fine, the second fails (a max_bytes that is not a number).
    request = orjson.dumps(["not a number", False, None, 2, [make_indicator()]])
    pending = helper_pool.submit(parallel.TASK, request)
    assert pending is not None
    stream = pending.results()
    assert unpack(next(stream)) == []
    with pytest.raises(helper_pool.HelperError, match="TypeError"):
        next(stream)
    [helper] = helper_pool._helpers
    assert helper.alive()  # a failed task leaves the helper usable
    assert not helper.lock.locked()
    objs = _envelope()
    assert parallel.prepare_objects(objs) == _sequential(objs)


def test_a_started_server_serves_once_a_helper_is_warm(db_url, monkeypatch: pytest.MonkeyPatch):
    """Under `accord serve` the first request already finds a warmed-up helper (none is prepared alone)."""
    from fastapi.testclient import TestClient

    from accord.api.app import create_app

    monkeypatch.setattr(helper_pool, "helper_count", lambda: 1)
    monkeypatch.setenv(helper_pool.START_WITH_SERVER, "1")
    get_settings.cache_clear()  # settings are read once per process
    helper_pool.shutdown()
    try:
        with TestClient(create_app()) as client:  # the lifespan has run: the server would be serving now
            assert helper_pool.start(), "no helper was idle and warmed up when serving began"
            assert client.get("/healthz").status_code == 200
        assert helper_pool._helpers == []  # stopped with the server
    finally:
        helper_pool.shutdown()
