"""Large envelopes are prepared partly by a helper process: the result is exactly the sequential one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from accord.core.settings import get_settings
from accord.store.prepare import prepare_all
from accord.taxii import parallel
from tests.builders import make_indicator, make_ipv4


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(parallel, "helper_count", lambda: 1)
    monkeypatch.setattr(parallel, "MIN_OBJECTS", 4)
    parallel.shutdown()
    yield
    parallel.shutdown()


def _wait_ready() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        helper = parallel._take_helper()
        if helper is not None:
            helper.lock.release()
            return
        time.sleep(0.05)
    raise AssertionError("the helper process never became ready")


def _envelope() -> list[object]:
    objs: list[object] = [make_indicator() for _ in range(6)]
    objs += [make_ipv4("198.51.100.7"), {"type": "indicator", "id": "bad"}, "not an object", {"spec_version": 2}]
    return objs + [make_indicator(name=f"ünïcode {i}", confidence=i) for i in range(6)]


def test_helper_result_equals_sequential(db_url, helpers):
    objs = _envelope()
    settings = get_settings()
    expected = prepare_all(objs, settings.max_object_bytes, index=settings.value_index)
    assert parallel.prepare_objects(objs) == expected  # first call: helper starting, prepared here
    _wait_ready()
    assert parallel.prepare_objects(objs) == expected
    assert any(h.ready for h in parallel._helpers)


def test_a_dead_helper_falls_back_and_is_replaced(db_url, helpers):
    objs = _envelope()
    settings = get_settings()
    expected = prepare_all(objs, settings.max_object_bytes, index=settings.value_index)
    parallel.prepare_objects(objs)
    _wait_ready()
    for helper in parallel._helpers:
        helper.proc.kill()
        helper.proc.wait()
    assert parallel.prepare_objects(objs) == expected
    _wait_ready()
    assert parallel.prepare_objects(objs) == expected


def test_small_envelopes_never_start_helpers(db_url, monkeypatch: pytest.MonkeyPatch):
    parallel.shutdown()
    monkeypatch.setattr(parallel, "helper_count", lambda: 1)
    parallel.prepare_objects([make_indicator() for _ in range(3)])
    assert parallel._helpers == []
