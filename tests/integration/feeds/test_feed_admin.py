"""Feeds managed like peers: edit (and what it resets), disable/enable, remove, status, through service and CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from accord.core import keys
from accord.core.db import transaction
from accord.core.errors import BadRequest
from accord.feeds.pull import pull_feed
from accord.feeds.service import edit_feed, remove_feed
from accord.feeds.tasks import pull_due
from accord.models.accounts import org
from accord.models.audit import audit_log
from accord.models.collections import peer
from accord.models.feeds import feed, feed_mark, feed_pull
from tests.builders import make_collection
from tests.integration.cli.cli_runner import run_cli
from tests.integration.feeds.conftest import add, counts, pull_rows
from tests.integration.feeds.server import FeedServer

PASSWORD = "open sesame 4711"


def _feed(engine: Engine, name: str) -> Any:
    with transaction(engine) as conn:
        return conn.execute(select(feed).where(feed.c.name == name)).one()


def _edit(engine: Engine, name: str, **changes: Any) -> None:
    with transaction(engine) as conn:
        edit_feed(conn, name, actor="test", **changes)


def _audited(engine: Engine) -> str:
    with transaction(engine) as conn:
        return " ".join(str(tuple(r)) for r in conn.execute(select(audit_log)))


def test_edit_changes_settings_and_resets_what_the_change_makes_stale(
    engine: Engine, node: dict, server: FeedServer
) -> None:
    add(engine, "misp", server.url("misp/"), "misp")
    assert pull_feed(engine, "misp").status == "ok"
    before = _feed(engine, "misp")
    assert before.etag
    assert before.content_hash
    with transaction(engine) as conn:
        assert conn.execute(select(feed_mark).where(feed_mark.c.feed_id == before.id)).first() is not None

    # How a body is read changed: validators go (the next pull reads it again), delivered events stay.
    _edit(engine, "misp", tlp="amber", every_minutes=30, timeout_seconds=12.5)
    row = _feed(engine, "misp")
    assert (row.tlp, row.every_minutes, row.timeout_seconds) == ("amber", 30, 12.5)
    assert (row.etag, row.last_modified, row.content_hash) == (None, None, None)
    with transaction(engine) as conn:
        assert conn.execute(select(feed_mark).where(feed_mark.c.feed_id == row.id)).first() is not None
        conn.execute(update(feed).where(feed.c.id == row.id).values(etag='"x"', content_hash="h", cursor="c"))

    # A new source: validators, cursor and delivered marks go, and the link follows the URL.
    new_url = server.url("blocklist.txt")
    _edit(engine, "misp", url=new_url, format="text", tlp="", every_minutes=0)
    row = _feed(engine, "misp")
    assert (row.url, row.format, row.tlp, row.every_minutes) == (new_url, "text", None, None)
    assert (row.etag, row.last_modified, row.content_hash, row.cursor) == (None, None, None, None)
    with transaction(engine) as conn:
        assert conn.execute(select(feed_mark).where(feed_mark.c.feed_id == row.id)).first() is None
        assert conn.execute(select(peer.c.url).where(peer.c.id == row.peer_id)).scalar_one() == new_url
    assert pull_feed(engine, "misp").status == "ok"  # reads the new source from scratch
    assert "feed.edit" in _audited(engine)


def test_edit_validates_like_add(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "list", server.url("blocklist.txt"), "text")
    with transaction(engine) as conn:
        make_collection(conn, "theirs", readers=[], writers=[])
    bad: list[tuple[dict[str, Any], str]] = [
        ({"url": "ftp://example.org/x"}, "http"),
        ({"format": "taxii"}, "taxii-collection"),
        ({"format": "nope"}, "unknown feed format"),
        ({"tlp": "purple"}, "tlp"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"timeout_seconds": 0}, "timeout"),
        ({"url": None}, "cannot be cleared"),
        ({"collection": "theirs"}, "W1"),
        ({"colour": "red"}, "no setting"),
        ({}, "nothing to change"),
    ]
    for changes, words in bad:
        with pytest.raises(BadRequest) as caught:
            _edit(engine, "list", **changes)
        assert words.lower() in caught.value.message.lower(), changes
    assert _feed(engine, "list").url == server.url("blocklist.txt")


def test_disable_stops_scheduled_pulls_and_enable_makes_it_due_at_once(
    engine: Engine, node: dict, server: FeedServer
) -> None:
    add(engine, "list", server.url("blocklist.txt"), "text", every_minutes=60)
    assert pull_due(engine) == 1
    assert pull_due(engine) == 0  # pulled a moment ago
    _edit(engine, "list", enabled=False)
    with transaction(engine) as conn:  # long overdue, but disabled
        conn.execute(update(feed).values(last_pull_us=1))
    assert pull_due(engine) == 0
    with transaction(engine) as conn:
        conn.execute(update(feed).values(last_pull_us=None))
    assert pull_due(engine) == 0
    _edit(engine, "list", enabled=True)
    with transaction(engine) as conn:
        conn.execute(update(feed).values(last_pull_us=2**62))  # as if pulled just now: not due ...
    _edit(engine, "list", enabled=False)
    _edit(engine, "list", enabled=True)  # ... until re-enabled
    assert pull_due(engine) == 1
    assert len(pull_rows(engine)) == 2


def test_remove_keeps_what_it_brought_and_frees_the_name(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "list", server.url("blocklist.txt"), "text")
    assert pull_feed(engine, "list").stored > 0
    stored = counts(engine)
    row = _feed(engine, "list")
    with transaction(engine) as conn:
        remove_feed(conn, "list", actor="test")
    assert counts(engine) == stored
    with transaction(engine) as conn:
        assert conn.execute(select(feed).where(feed.c.name == "list")).first() is None
        assert conn.execute(select(feed_pull)).first() is None
        link = conn.execute(select(peer).where(peer.c.id == row.peer_id)).one()
        assert link.kind == "gone"
        assert link.name != "feed:list"
        assert conn.execute(select(org.c.id).where(org.c.id == row.source_org_id)).first() is not None
    assert "feed.remove" in _audited(engine)
    add(engine, "list", server.url("blocklist.txt"), "text")
    assert _feed(engine, "list").peer_id != row.peer_id


def test_cli_edit_remove_status_and_one_line_errors(
    engine: Engine,
    node: dict,
    server: FeedServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url("blocklist.txt")
    added = run_cli(capsys, monkeypatch, "feed", "add", "list", "--url", url, "--format", "text", "--every", "5")
    assert added.code == 0
    assert run_cli(capsys, monkeypatch, "feed", "status").out == (
        f"list: text {url} for Host Organisation into -\n  never pulled\n  0 pulls, 0 stored in all; next due: now\n"
    )
    assert run_cli(capsys, monkeypatch, "feed", "pull", "list").code == 0
    status = run_cli(capsys, monkeypatch, "feed", "status", "list").out.splitlines()
    assert status[1].startswith("  last pull ")
    assert ": ok, stored " in status[1]
    assert status[2].endswith("next due: in 5m") or status[2].endswith("next due: in 4m")

    edited = run_cli(capsys, monkeypatch, "feed", "edit", "list", "--disable", "--every", "0", "--tlp", "green")
    assert (edited.code, edited.out) == (0, "feed 'list' changed\n")
    status = run_cli(capsys, monkeypatch, "feed", "status", "list").out
    assert status.startswith("list (disabled): ")
    assert "next due: disabled" in status
    assert "\tgreen" not in run_cli(capsys, monkeypatch, "feed", "list").out  # list's columns are unchanged
    assert "default tlp: green" in run_cli(capsys, monkeypatch, "feed", "show", "list").out

    for args, message in (
        (["feed", "edit", "nope", "--enable"], "no feed named 'nope'"),
        (["feed", "edit", "list"], "nothing to change"),
        (["feed", "edit", "list", "--url", "ftp://x.example/"], "http"),
        (["feed", "remove", "nope"], "no feed named 'nope'"),
        (["feed", "status", "nope"], "no feed named 'nope'"),
    ):
        failed = run_cli(capsys, monkeypatch, *args)
        assert failed.code != 0, args
        assert failed.out == "", args
        assert failed.err.startswith("accord: error: ")
        assert message in failed.err
        assert failed.err.count("\n") == 1

    removed = run_cli(capsys, monkeypatch, "feed", "remove", "list")
    assert (removed.code, removed.out) == (0, "feed 'list' removed\n")
    assert run_cli(capsys, monkeypatch, "feed", "status").out == "no feeds\n"
    assert run_cli(capsys, monkeypatch, "feed", "add", "list", "--url", url, "--format", "text").code == 0


def test_the_password_never_appears_in_output_audit_or_database(
    engine: Engine,
    node: dict,
    server: FeedServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.basic = ("reader", PASSWORD)
    url = server.url("blocklist.txt")
    monkeypatch.setenv("FEED_PASSWORD", "first " + PASSWORD)
    outputs = [
        run_cli(
            capsys, monkeypatch, "feed", "add", "p", "--url", url, "--format", "text", "--username", "reader",
            "--password-env", "FEED_PASSWORD",
        )
    ]  # fmt: skip
    assert outputs[0].code == 0, outputs[0].err
    assert pull_feed(engine, "p").status == "error"  # the first password is wrong
    secret_file = tmp_path / "password"
    secret_file.write_text(PASSWORD + "\n")
    outputs.append(run_cli(capsys, monkeypatch, "feed", "edit", "p", "--password-file", str(secret_file)))
    assert outputs[-1].code == 0, outputs[-1].err
    assert pull_feed(engine, "p").status == "ok"
    for args in (["feed", "show", "p"], ["feed", "status"], ["feed", "list"]):
        outputs.append(run_cli(capsys, monkeypatch, *args))
    both = run_cli(capsys, monkeypatch, "feed", "edit", "p", "--password-env", "X", "--password-file", "f")
    assert both.code == 1
    assert "not both" in both.err

    stored = str(_feed(engine, "p").password)
    assert keys.is_encrypted(stored)
    assert keys.decrypt_secret(stored) == PASSWORD
    with transaction(engine) as conn:
        everything = " ".join(str(tuple(r)) for t in (feed, feed_pull, peer) for r in conn.execute(select(t)))
    for text in [o.out + o.err for o in outputs] + [_audited(engine), everything]:
        assert PASSWORD not in text
    assert "'changed': ['password']" in _audited(engine) or '"changed":["password"]' in _audited(engine)
