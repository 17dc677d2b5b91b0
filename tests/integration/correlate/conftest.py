"""A small community for correlation tests: three organisations, a shared and a two-party collection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection

from accord.core import settings as core_settings
from accord.demo.service import ensure_host_org
from accord.sharing.policy import Principal
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import TLP_IDS, make_collection, make_indicator, make_org
from tests.integration.api.conftest import node  # noqa: F401  (the ASGI node, for the route tests)


@dataclass
class Community:
    conn: Connection
    orgs: dict[str, Any]
    collections: dict[str, int]

    def who(self, name: str, role: str = "analyst") -> Principal:
        return principal_for(self.conn, org_id=self.orgs[name].id, role=role)

    def put(self, owner: str, collection: str | None, *objects: dict[str, Any]) -> None:
        cid = None if collection is None else self.collections[collection]
        report = ingest(self.conn, objects, WriteContext(writer_org_id=self.orgs[owner].id, collection_id=cid))
        assert report.refused == 0, report.reasons

    def identity(self, name: str) -> str:
        return str(self.orgs[name].stix_id)


@pytest.fixture
def community(conn: Connection) -> Community:
    ensure_host_org(conn)
    orgs = {name: make_org(conn, name) for name in ("Alpha", "Bravo", "Charlie")}
    shared = make_collection(conn, "shared", readers=["Alpha", "Bravo", "Charlie"], writers=["Alpha", "Bravo"])
    pair = make_collection(conn, "pair", readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"])
    return Community(conn, orgs, {"shared": shared.id, "pair": pair.id})


@pytest.fixture
def widespread_limit(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Set settings.correlation_widespread for one test."""

    def set_limit(n: int) -> None:
        monkeypatch.setenv("ACCORD_CORRELATION_WIDESPREAD", str(n))
        core_settings.get_settings.cache_clear()

    yield set_limit
    core_settings.get_settings.cache_clear()


@pytest.fixture
def count_cap(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Set settings.correlation_count_cap for one test."""

    def set_cap(n: int) -> None:
        monkeypatch.setenv("ACCORD_CORRELATION_COUNT_CAP", str(n))
        core_settings.get_settings.cache_clear()

    yield set_cap
    core_settings.get_settings.cache_clear()


def ind(pattern: str, *, tlp: Tlp | None = Tlp.GREEN, **extra: Any) -> dict[str, Any]:
    """An indicator with a pattern (GREEN unless told)."""
    return make_indicator(pattern=pattern, tlp=tlp, oid=f"indicator--{uuid.uuid4()}", **extra)


__all__ = ["TLP_IDS", "Community", "ind"]
