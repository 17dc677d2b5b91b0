"""Status resources are kept at least 24 hours (TAXII 2.1 §4.3), then purged on write; pending ones stay."""

from __future__ import annotations

import uuid

import orjson
import pytest
from sqlalchemy import select

from accord.core.clock import now_us
from accord.models.jobs import taxii_status
from accord.taxii import repository as repo
from accord.taxii import writes
from tests.builders import make_indicator
from tests.integration.taxii.conftest import post_envelope

HOUR_US = 3_600_000_000


def _status(conn, org_id: int, age_us: int, state: str = "complete") -> str:
    status_id = str(uuid.uuid4())
    repo.insert_status(
        conn,
        {
            "id": status_id,
            "collection_id": 1,
            "org_id": org_id,
            "status": state,
            "request_us": now_us() - age_us,
            "total_count": 0,
            "success_count": 0,
            "failure_count": 0,
            "pending_count": 0,
            "detail": orjson.dumps({}),
        },
    )
    return status_id


def _ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(taxii_status.c.id)).scalars())


def test_retention_is_at_least_24_hours():
    assert writes.status_retention_us() >= 24 * HOUR_US


def test_purge_keeps_recent_and_pending_statuses(engine, community):
    org_id = community.orgs["alpha"].id
    with engine.begin() as conn:
        fresh = _status(conn, org_id, 1 * HOUR_US)
        almost = _status(conn, org_id, 24 * HOUR_US - 60_000_000)
        old = _status(conn, org_id, 25 * HOUR_US)
        old_pending = _status(conn, org_id, 48 * HOUR_US, state="pending")
    with engine.begin() as conn:
        assert writes.purge_statuses(conn, force=True) == 1
    assert _ids(engine) == {fresh, almost, old_pending}
    assert old not in _ids(engine)


def test_a_post_purges_expired_statuses(client, community, engine, monkeypatch: pytest.MonkeyPatch):
    with engine.begin() as conn:
        old = _status(conn, community.orgs["alpha"].id, 30 * HOUR_US)
    monkeypatch.setattr(writes, "_last_purge", 0.0)
    url = community.url(community.shared, "objects/")
    new = post_envelope(client, community.auth["alice"], url, make_indicator()).json()["id"]
    remaining = _ids(engine)
    assert new in remaining
    assert old not in remaining
    # the status just written is served, with its outcome
    body = client.get(f"/taxii2/api/status/{new}/", headers=community.auth["alice"]).json()
    assert (body["status"], body["success_count"]) == ("complete", 1)


def test_purges_are_rate_limited_per_process(engine, community, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(writes, "_last_purge", 0.0)
    with engine.begin() as conn:
        writes.purge_statuses(conn)
        old = _status(conn, community.orgs["alpha"].id, 30 * HOUR_US)
        assert writes.purge_statuses(conn) == 0  # within PURGE_INTERVAL_S of the last purge
    assert old in _ids(engine)


def test_the_retention_setting_lengthens_but_never_shortens(monkeypatch):
    from accord.core import settings as core_settings

    for configured, kept in (("48", 48), ("1", 24)):
        monkeypatch.setenv("ACCORD_TAXII_STATUS_RETENTION_HOURS", configured)
        core_settings.get_settings.cache_clear()
        assert writes.status_retention_us() == kept * HOUR_US
    core_settings.get_settings.cache_clear()
