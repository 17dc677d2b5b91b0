"""Test databases: every integration test runs on SQLite, and on PostgreSQL when ACCORD_TEST_POSTGRES_URL is set.

Each test gets a fresh database built by the shipped migrations (a copy of a migrated template), so tests
that go through the ASGI app, the CLI or a real server see exactly what a user would.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from accord.core import db as core_db
from accord.core import settings as core_settings
from accord.core.migrate import upgrade

PG_URL = os.environ.get("ACCORD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked `postgresql` (or `sqlite`) is skipped on the other database, visibly, with the marker's reason."""
    only = {"postgresql": ("postgres", "PostgreSQL"), "sqlite": ("sqlite", "SQLite")}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None:
            continue
        kind = callspec.params.get("backend", callspec.params.get("e2e_backend"))
        for name, (wanted, shown) in only.items():
            marker = item.get_closest_marker(name)
            if marker and kind is not None and kind != wanted:
                item.add_marker(pytest.mark.skipif(True, reason=f"{shown} only: {marker.args[0]}"))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated template database for one backend."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("tpl") / "template.db"
        engine = core_db.make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        yield {"kind": "sqlite", "template": str(path)}
        return
    assert PG_URL
    admin = create_engine(core_db.normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    tpl = f"accord_tpl_{worker}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{tpl}"'))
    tpl_url = make_url(core_db.normalize_url(PG_URL)).set(database=tpl)
    engine = create_engine(tpl_url)
    upgrade(engine)
    engine.dispose()
    yield {"kind": "postgres", "template": tpl}
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(backend: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated database for this test; ACCORD_DATABASE_URL points at it."""
    if backend["kind"] == "sqlite":
        path = tmp_path / "accord.db"
        shutil.copyfile(backend["template"], path)
        url = f"sqlite:///{path}"
        dropper = None
    else:
        assert PG_URL
        name = f"accord_t_{uuid.uuid4().hex[:10]}"
        admin = create_engine(core_db.normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{backend["template"]}"'))
        url = make_url(core_db.normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)

        def dropper() -> None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    core_db.get_engine.cache_clear()
    yield url
    engine = core_db.get_engine()
    engine.dispose()
    core_db.get_engine.cache_clear()
    core_settings.get_settings.cache_clear()
    if dropper:
        dropper()


@pytest.fixture
def engine(db_url: str) -> Engine:
    """The engine of this test's database."""
    return core_db.get_engine()


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction, committed at the end (the test's database is thrown away)."""
    with engine.begin() as connection:
        yield connection
