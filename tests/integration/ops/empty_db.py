"""A second, empty database of the test's backend (no migrations run): a node to restore or migrate into."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accord.core import db as core_db
from tests.conftest import PG_URL


@contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty database (a SQLite file in `folder`, or a PostgreSQL database dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'empty-{uuid.uuid4().hex[:6]}.db'}"
        return
    assert PG_URL
    with pg_database(PG_URL) as url:
        yield url


@contextmanager
def pg_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on the server of `server_url`, dropped afterwards."""
    name = f"accord_e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(core_db.normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(core_db.normalize_url(server_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
