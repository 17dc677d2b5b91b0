"""Feed passwords at rest: encrypted, never shown, still authenticating after a key rotation or an interrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from accord.accounts.service import host_org
from accord.core import keys
from accord.core.db import transaction
from accord.core.settings import get_settings
from accord.federation.service import PeerSpec, add_peer
from accord.feeds.pull import pull_feed
from accord.models.audit import audit_log
from accord.models.collections import peer
from accord.models.feeds import feed
from tests.integration.cli.cli_runner import run_cli
from tests.integration.feeds.conftest import add
from tests.integration.feeds.server import FeedServer

PASSWORD = "correct horse battery staple"


def stored_password(engine: Engine, name: str = "private") -> str:
    with transaction(engine) as conn:
        return str(conn.execute(select(feed.c.password).where(feed.c.name == name)).scalar_one())


def key_id(stored: str) -> str:
    return stored.split(":")[2]


@pytest.fixture
def private(engine: Engine, node: dict, server: FeedServer) -> FeedServer:
    """A feed 'private' on a server that wants HTTP Basic credentials."""
    server.basic = ("reader", PASSWORD)
    add(engine, "private", server.url("blocklist.txt"), "text", username="reader", password=PASSWORD)
    return server


def test_the_password_is_stored_encrypted_and_shown_nowhere(
    engine: Engine, private: FeedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = stored_password(engine)
    assert keys.is_encrypted(stored)
    assert PASSWORD not in stored
    assert keys.decrypt_secret(stored) == PASSWORD
    assert keys.key_dir() == get_settings().var_dir / "keys"  # by default, beside the database's var/
    assert pull_feed(engine, "private").status == "ok"
    shown = run_cli(capsys, monkeypatch, "feed", "show", "private").out
    listed = run_cli(capsys, monkeypatch, "feed", "list").out
    with transaction(engine) as conn:
        audited = " ".join(str(tuple(r)) for r in conn.execute(select(audit_log)))
    for output in (shown, listed, audited):
        assert PASSWORD not in output
        assert stored not in output


def test_a_wrong_password_or_key_is_a_recorded_pull_error(
    engine: Engine, private: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_NODE_KEY_DIR", str(tmp_path / "lost"))
    get_settings.cache_clear()
    result = pull_feed(engine, "private")
    assert result.status == "error"
    assert (
        result.error
        == f"cannot decrypt a stored secret: there is no node key in {tmp_path / 'lost'} (restore it from its backup)"
    )


def test_rotation_reencrypts_and_the_feed_still_authenticates(
    engine: Engine, private: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(engine, "open", private.url("blocklist.txt"), "text")  # no password: nothing to rotate
    assert pull_feed(engine, "private").status == "ok"
    before = stored_password(engine)
    # A peer's token rotates with the feeds' passwords.
    with transaction(engine) as conn:
        host = host_org(conn)
        add_peer(conn, PeerSpec(name="partner", url="https://partner.example/taxii2/", org=host.name, token="tok-1"))
    # Columns that this database does not have (yet) are skipped.
    monkeypatch.setattr(keys, "_secret_columns", {**keys._secret_columns, ("no_such_table", "secret"): None})
    rotation = keys.rotate_secret_key(engine)
    assert (rotation.reencrypted, rotation.by_column) == (
        2,
        {"feed.password": 1, "peer.secret": 1, "webhook.secret": 0},
    )
    with transaction(engine) as conn:
        token = conn.execute(select(peer.c.secret).where(peer.c.name == "partner")).scalar_one()
    assert (key_id(token), keys.decrypt_secret(token)) == (rotation.key_id, "tok-1")
    after = stored_password(engine)
    assert (key_id(before), key_id(after)) == (rotation.previous_key_id, rotation.key_id)
    assert keys.decrypt_secret(after) == PASSWORD
    directory = keys.key_dir()
    assert sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) == [
        "secret.key",
        "secret.key.old",
    ]
    private.files["blocklist.txt"] += b"\n198.51.100.77\n"
    result = pull_feed(engine, "private")
    assert (result.status, result.stored) == ("ok", 1), result.error
    assert keys.encrypt_secret("x").split(":")[2] == rotation.key_id  # new secrets use the new key
    # A value left under the previous key (written during the rotation) stays readable and rotates next time.
    late = keys._encrypt_with(bytes.fromhex((directory / "secret.key.old").read_text()), "late")
    assert keys.decrypt_secret(late) == "late"


def test_an_interrupted_rotation_loses_nothing(engine: Engine, private: FeedServer) -> None:
    """Crash after the commit, before the key files moved: readable meanwhile, finished by the next rotation."""
    directory = keys.key_dir()
    current = bytes.fromhex((directory / "secret.key").read_text())
    new_key = bytes(range(32))
    (directory / "secret.key.next").write_text(new_key.hex())
    with transaction(engine) as conn:
        ring = {keys._key_id(current): current, keys._key_id(new_key): new_key}
        assert keys.reencrypt_secrets(conn, ring, new_key) == {
            "feed.password": 1,
            "peer.secret": 0,
            "webhook.secret": 0,
        }
    assert key_id(stored_password(engine)) == keys._key_id(new_key)
    assert keys.decrypt_secret(stored_password(engine)) == PASSWORD
    assert pull_feed(engine, "private").status == "ok"
    rotation = keys.rotate_secret_key(engine)
    assert rotation.previous_key_id == keys._key_id(new_key)  # the interrupted rotation was finished first
    assert keys.decrypt_secret(stored_password(engine)) == PASSWORD
    assert bytes.fromhex((directory / "secret.key.old").read_text()) == new_key
    assert not (directory / "secret.key.next").exists()


def test_a_rotation_that_cannot_read_a_secret_changes_nothing(engine: Engine, private: FeedServer) -> None:
    before = stored_password(engine)
    foreign = keys._encrypt_with(bytes(32), "someone else's")
    add(engine, "foreign", private.url("blocklist.txt"), "text")
    with transaction(engine) as conn:
        conn.execute(text("UPDATE feed SET password = :p WHERE name = 'foreign'"), {"p": foreign})
    key_file = keys.key_dir() / "secret.key"
    key_before = key_file.read_bytes()
    with pytest.raises(keys.SecretError, match=r"^feed\.password: cannot decrypt .* nothing was rotated$"):
        keys.rotate_secret_key(engine)
    assert stored_password(engine) == before
    assert stored_password(engine, "foreign") == foreign
    assert key_file.read_bytes() == key_before
    assert not (keys.key_dir() / "secret.key.next").exists()
