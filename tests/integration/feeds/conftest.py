"""Feed test fixtures: an initialised node with a collection, and a loopback HTTP server with the fixture files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from accord.core.db import transaction
from accord.core.settings import get_settings
from accord.demo.service import ensure_host_org
from accord.feeds.service import FeedSpec, add_feed
from accord.models.feeds import feed_pull
from accord.models.objects import collection_object, stix_object
from tests.builders import make_collection
from tests.integration.feeds.server import FeedServer, serve

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"


def fixture_files() -> dict[str, bytes]:
    """Every fixture file by its path relative to tests/data/feeds."""
    return {str(p.relative_to(DATA)): p.read_bytes() for p in DATA.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True)
def _feeds_reach_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The feed servers of these tests are on loopback, which feeds refuse unless allowed (the default is shown
    by tests/integration/api/test_outbound_guard.py)."""
    monkeypatch.setenv("ACCORD_FEEDS_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def node(engine: Engine) -> dict[str, Any]:
    """The host organisation and a collection 'intel' it reads and writes."""
    with transaction(engine) as conn:
        host_id = ensure_host_org(conn)
        from accord.accounts.service import host_org

        host = host_org(conn)
        assert host is not None
        make_collection(conn, "intel", readers=[host.name], writers=[host.name])
    return {"host_id": host_id}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A running loopback server with the fixture files."""
    with serve(FeedServer(files=fixture_files())) as state:
        yield state


def add(engine: Engine, name: str, url: str, fmt: str, **extra: Any) -> None:
    """Configure a feed publishing into 'intel'."""
    with transaction(engine) as conn:
        add_feed(conn, FeedSpec(name=name, url=url, format=fmt, collection="intel", **extra), actor="test")


def counts(engine: Engine) -> tuple[int, int]:
    """(object versions, collection memberships) stored."""
    with transaction(engine) as conn:
        objects = conn.execute(select(func.count()).select_from(stix_object)).scalar_one()
        members = conn.execute(select(func.count()).select_from(collection_object)).scalar_one()
    return int(objects), int(members)


def pull_rows(engine: Engine) -> list[Any]:
    """Every recorded pull, oldest first."""
    with transaction(engine) as conn:
        return list(conn.execute(select(feed_pull).order_by(feed_pull.c.id)))
