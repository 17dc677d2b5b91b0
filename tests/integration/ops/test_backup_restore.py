"""`accord backup` and `accord restore`: a restored node holds exactly what the backed-up one held."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.accounts import service as accounts
from accord.accounts.credentials import Credentials
from accord.core import db as core_db
from accord.core import settings as core_settings
from accord.core.keys import public_key_text
from accord.feeds import repository as feeds
from accord.feeds.collect import feed_auth
from accord.models import metadata
from tests.integration.cli.cli_runner import Result, run_cli
from tests.integration.ops.empty_db import empty_database

Cli = Callable[..., Result]


@pytest.fixture
def cli(db_url: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> Cli:
    def run(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, *args)

    return run


def _switch_node(monkeypatch: pytest.MonkeyPatch, url: str, var: Path) -> None:
    """Point this process at another node (database and var directory), as a shell with other settings would."""
    core_db.get_engine().dispose()
    monkeypatch.setenv("ACCORD_DATABASE_URL", url)
    monkeypatch.setenv("ACCORD_VAR_DIR", str(var))
    core_settings.get_settings.cache_clear()
    core_db.get_engine.cache_clear()


def _everything() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the node, in a stable order."""
    with core_db.get_engine().connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in metadata.sorted_tables
        }


def _fill(cli: Cli) -> str:
    """A node with organisations, users, tokens, objects in several versions and collections, a feed password."""
    assert cli("demo").code == 0
    token = cli("token", "create", "alice@alpha.example").out.strip()
    assert token.startswith("acc_")
    added = cli(
        "feed",
        "add",
        "f1",
        "--url",
        "https://feeds.example/x.csv",
        "--format",
        "csv",
        "--username",
        "u",
        "--password",
        "pw1",
    )
    assert added.code == 0, added.err
    assert cli("node", "key").code == 0  # makes the signing key
    return token


def test_a_restore_holds_every_version_membership_audit_entry_and_account(
    backend: dict[str, str], cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _fill(cli)
    backup, keys = tmp_path / "node.backup", tmp_path / "node.keys"
    done = cli("backup", str(backup), "--keys", str(keys))
    assert done.code == 0, done.err
    before = _everything()
    public_key = public_key_text()
    assert len(before["stix_object"]) > len({row[1] for row in before["stix_object"]})  # several versions of an id
    assert before["collection_object"]
    assert before["api_token"]
    assert before["audit_log"][-1][3] == "node.backup"  # (seq, at, actor, action, ...): the backup is audited
    with tarfile.open(backup) as tar:  # the keys are kept apart from the database
        assert not any("key" in name for name in tar.getnames())

    with empty_database(backend["kind"], tmp_path) as url:
        _switch_node(monkeypatch, url, tmp_path / "restored-var")
        done = cli("restore", str(backup), "--keys", str(keys))
        assert done.code == 0, done.err
        assert done.err == ""  # every secret is readable: no warning
        after = _everything()
        assert set(after) == set(before)
        for name, rows in before.items():
            if name == "audit_log":
                assert after[name][: len(rows)] == rows
                assert [row[3] for row in after[name][len(rows) :]] == ["node.restore"]
            else:
                assert after[name] == rows, name
        assert cli("audit", "verify").code == 0
        assert public_key_text() == public_key
        with core_db.get_engine().connect() as conn:
            assert accounts.authenticate(conn, Credentials(token=token)) is not None
            feed = feeds.get_feed(conn, "f1")
            assert feed is not None
            assert feed_auth(feed) == ("u", "pw1")

        again = cli("restore", str(backup))  # the node is not empty any more
        assert again.code != 0
        assert again.err.count("\n") == 1
        assert "not empty" in again.err
        assert _everything()["stix_object"] == before["stix_object"]
        core_db.get_engine().dispose()


def test_a_restore_without_the_keys_says_which_secrets_are_lost(
    backend: dict[str, str], cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(cli)
    backup = tmp_path / "node.backup"
    assert cli("backup", str(backup)).code == 0
    with empty_database(backend["kind"], tmp_path) as url:
        _switch_node(monkeypatch, url, tmp_path / "restored-var")
        assert cli("db", "upgrade").code == 0  # a migrated but empty node is empty too
        done = cli("restore", str(backup))
        assert done.code == 0, done.err
        assert "1 stored secrets (feed or peer credentials) cannot be decrypted" in done.err
        assert cli("audit", "verify").code == 0
        core_db.get_engine().dispose()


def test_restore_refuses_what_is_not_a_backup_of_this_kind(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").code == 0
    keys = tmp_path / "node.keys"
    assert cli("backup", str(tmp_path / "b"), "--keys", str(keys)).code == 0
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a tar file")
    for args, message in (
        (("restore", str(junk)), "is not an Accord backup file"),
        (("restore", str(keys)), "is not an Accord backup file"),
        (("restore", str(tmp_path / "missing")), "no such file"),
        (("backup", str(tmp_path / "same"), "--keys", str(tmp_path / "same")), "a file of its own"),
    ):
        done = cli(*args)
        assert done.code != 0
        assert message in done.err
        assert done.err.count("\n") == 1
