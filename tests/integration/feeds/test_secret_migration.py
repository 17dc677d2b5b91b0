"""Migration 0010: plain feed passwords are encrypted with the node key; the downgrade gives them back in plain."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, inspect, text

from accord.core import keys
from accord.core.migrate import alembic_config, upgrade
from accord.feeds.pull import pull_feed
from tests.integration.feeds.conftest import add
from tests.integration.feeds.server import FeedServer

BEFORE = "0009"  # the revision before feed passwords were encrypted
LONG = "p" * 500  # the longest password the old column held


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _passwords(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, password FROM feed ORDER BY name"))
        return {str(row.name): row.password for row in rows}


def test_legacy_plain_passwords_are_encrypted_and_the_downgrade_restores_them(
    engine: Engine, node: dict, server: FeedServer
) -> None:
    server.basic = ("reader", "legacy-pass")
    add(engine, "legacy", server.url("blocklist.txt"), "text", username="reader", password="placeholder")
    add(engine, "long", "http://example.org/list.txt", "text", username="u", password="x")
    add(engine, "open", "http://example.org/list.txt", "text")
    _downgrade(engine, BEFORE)
    with engine.begin() as conn:  # what a node at 0008 stored: the password as given
        conn.execute(text("UPDATE feed SET password = 'legacy-pass' WHERE name = 'legacy'"))
        conn.execute(text("UPDATE feed SET password = :p WHERE name = 'long'"), {"p": LONG})
    upgrade(engine)
    stored = _passwords(engine)
    assert stored["open"] is None
    for name, plain in (("legacy", "legacy-pass"), ("long", LONG)):
        value = stored[name]
        assert value is not None
        assert keys.is_encrypted(value)
        assert plain not in value
        assert keys.decrypt_secret(value) == plain
    assert pull_feed(engine, "legacy").status == "ok"  # authenticates with the decrypted password
    upgrade(engine)  # re-running changes nothing
    assert _passwords(engine) == stored
    _downgrade(engine, BEFORE)
    assert _passwords(engine) == {"legacy": "legacy-pass", "long": LONG, "open": None}
    column = next(c for c in inspect(engine).get_columns("feed") if c["name"] == "password")
    assert getattr(column["type"], "length", None) == 500
    upgrade(engine)
    assert keys.decrypt_secret(_passwords(engine)["legacy"] or "") == "legacy-pass"
