"""`accord node key` and `accord node rotate-key`, as a user runs them."""

from __future__ import annotations

from collections.abc import Callable

from accord.core import keys
from accord.core.db import get_engine, transaction
from accord.feeds.service import FeedSpec, add_feed, get_feed_or_raise
from tests.integration.cli.cli_runner import Result


def test_node_key_prints_the_public_key_on_one_line(cli: Callable[..., Result]) -> None:
    shown = cli("node", "key")
    assert (shown.code, shown.err) == (0, "")
    assert shown.out == keys.public_key_text() + "\n"
    assert keys.parse_public_key(shown.out) == shown.out.strip()
    assert cli("node", "key").out == shown.out  # made once, then the same


def test_rotate_key_reencrypts_every_secret_and_says_how_many(cli: Callable[..., Result]) -> None:
    with transaction(get_engine()) as conn:
        for name in ("a", "b"):
            spec = FeedSpec(name=name, url="http://example.org/x", format="text", username="u", password=f"pw-{name}")
            add_feed(conn, spec, actor="test")
    rotated = cli("node", "rotate-key")
    assert (rotated.code, rotated.err) == (0, "")
    assert rotated.out.endswith(": 2 secrets re-encrypted\n")
    assert len(rotated.out.splitlines()) == 1
    new_id = rotated.out.split(" -> ")[1].split(")")[0]
    with transaction(get_engine()) as conn:
        for name in ("a", "b"):
            stored = get_feed_or_raise(conn, name).password
            assert stored.split(":")[2] == new_id
            assert keys.decrypt_secret(stored) == f"pw-{name}"
    assert cli("node", "rotate-key").out.endswith(": 2 secrets re-encrypted\n")


def test_a_damaged_key_file_is_one_line_on_stderr(cli: Callable[..., Result]) -> None:
    directory = keys.key_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / keys.SECRET_FILE).write_text("garbage")
    failed = cli("node", "rotate-key")
    assert failed.code == 1
    assert failed.out == ""
    assert failed.err == (
        f"accord: error: the secret key file {directory / keys.SECRET_FILE} is damaged (expected 64 hex digits)\n"
    )
