"""Migrations on a database that already holds data, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from accord.accounts import service as accounts
from accord.core import db as core_db
from accord.core.errors import Conflict
from accord.core.migrate import alembic_config
from tests.conftest import PG_URL


@pytest.fixture
def empty_engine(backend: dict[str, str], tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty database of this backend (no migrations run)."""
    if backend["kind"] == "sqlite":
        engine = core_db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    assert PG_URL
    name = f"accord_m_{uuid.uuid4().hex[:10]}"
    admin = create_engine(core_db.normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine = core_db.make_engine(make_url(core_db.normalize_url(PG_URL)).set(database=name).render_as_string(False))
    yield engine
    engine.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(engine: Engine, target: str, *, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


ORGS = ["Host Organisation", "ÄRGER CERT", "ärger cert", "CERT  Alpha", "cert alpha", "ärger cert (2)"]
GROUPS = ["Benelux", "BENELUX"]


def _fill_at_0005(engine: Engine) -> None:
    with engine.begin() as conn:
        for i, name in enumerate(ORGS, start=1):
            conn.execute(
                text(
                    "INSERT INTO org (id, name, stix_id, is_host, is_remote, created_us) "
                    "VALUES (:id, :name, :stix, :host, FALSE, 0)"
                ),
                {"id": i, "name": name, "stix": f"identity--{uuid.uuid4()}", "host": i == 1},
            )
        for i, name in enumerate(GROUPS, start=1):
            conn.execute(
                text("INSERT INTO sharing_group (id, name, description, created_us) VALUES (:id, :name, '', 0)"),
                {"id": i, "name": name},
            )
            conn.execute(text("INSERT INTO sharing_group_member (group_id, org_id) VALUES (:g, 3)"), {"g": i})
        conn.execute(
            text(
                "INSERT INTO app_user (email, org_id, role, disabled, created_us) "
                "VALUES ('u@aerger.example', 3, 'analyst', FALSE, 0)"
            )
        )


def test_0007_fills_name_keys_and_renames_later_duplicates(
    empty_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    _migrate(empty_engine, "0005")
    _fill_at_0005(empty_engine)
    with caplog.at_level(logging.WARNING, logger="accord.migrations"):
        _migrate(empty_engine, "0007")
    with empty_engine.connect() as conn:
        orgs = conn.execute(text("SELECT id, name, name_key FROM org ORDER BY id")).all()
        groups = conn.execute(text("SELECT id, name, name_key FROM sharing_group ORDER BY id")).all()
        members = conn.execute(text("SELECT group_id, org_id FROM sharing_group_member ORDER BY group_id")).all()
        users = conn.execute(text("SELECT email, org_id FROM app_user")).all()
    assert [tuple(r) for r in orgs] == [
        (1, "Host Organisation", "host organisation"),
        (2, "ÄRGER CERT", "ärger cert"),  # the oldest keeps its name
        (3, "ärger cert (3)", "ärger cert (3)"),  # "(2)" is another organisation's name already
        (4, "CERT  Alpha", "cert alpha"),
        (5, "cert alpha (2)", "cert alpha (2)"),
        (6, "ärger cert (2)", "ärger cert (2)"),
    ]
    assert [tuple(r) for r in groups] == [(1, "Benelux", "benelux"), (2, "BENELUX (2)", "benelux (2)")]
    # Renamed rows keep everything else: their members, users and grants stay as they were.
    assert [tuple(r) for r in members] == [(1, 3), (2, 3)]
    assert [tuple(r) for r in users] == [("u@aerger.example", 3)]
    assert "'ärger cert' is renamed 'ärger cert (3)'" in caplog.text
    with empty_engine.begin() as conn:
        assert accounts.get_org_by_name_or_raise(conn, "Ärger  Cert").id == 2
        assert accounts.get_org_by_name_or_raise(conn, "ärger cert (3)").id == 3
        assert accounts.get_group_by_name(conn, "benelux").id == 1
        with pytest.raises(Conflict):
            accounts.create_org(conn, "ärger cert")
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO org (name, name_key, stix_id, is_host, is_remote, created_us) "
                "VALUES ('Ärger Cert', 'ärger cert', 'identity--x', FALSE, FALSE, 0)"
            )
        )


def test_0007_upgrades_an_empty_database_and_downgrades(empty_engine: Engine) -> None:
    _migrate(empty_engine, "0007")
    assert "name_key" in {c["name"] for c in inspect(empty_engine).get_columns("org")}
    indexes = {i["name"]: i["unique"] for i in inspect(empty_engine).get_indexes("sharing_group")}
    assert indexes["uq_sharing_group_name_key"]
    _migrate(empty_engine, "0005", down=True)
    assert "name_key" not in {c["name"] for c in inspect(empty_engine).get_columns("org")}
    assert "name_key" not in {c["name"] for c in inspect(empty_engine).get_columns("sharing_group")}
    _migrate(empty_engine, "0007")
    assert "name_key" in {c["name"] for c in inspect(empty_engine).get_columns("org")}
