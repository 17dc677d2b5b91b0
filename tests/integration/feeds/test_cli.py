"""`accord feed add|pull|list|show`, through the sub-app and through the `accord` entry point."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from accord.accounts import service as accounts
from accord.cli.feed_cmd import feed_app
from accord.core.db import transaction
from accord.sharing.repository import principal_for
from accord.store.queries import list_latest
from tests.builders import make_collection, make_org
from tests.integration.cli.cli_runner import Result, run_cli
from tests.integration.feeds.server import FeedServer

runner = CliRunner()


def test_add_pull_list(engine: Engine, node: dict, server: FeedServer) -> None:
    url = server.url("iocs.csv")
    added = runner.invoke(
        feed_app,
        ["add", "csv", "--url", url, "--format", "csv", "--collection", "intel", "--csv-columns", "type=1,value=2"],
    )
    assert added.exit_code == 0, added.output
    added = runner.invoke(
        feed_app,
        ["add", "csv2", "--url", url, "--format", "csv", "--csv-columns", "value=2", "--skip-header", "--every", "5"],
    )
    assert added.exit_code == 0, added.output
    pulled = runner.invoke(feed_app, ["pull", "csv"])
    assert pulled.exit_code == 0, pulled.output
    # One line: the unskipped header row is the skipped line, and its reason is shown.
    expected = (
        "csv: 4 new, 0 already stored, 0 refused, 1 line(s) skipped (first: line 1: not a recognisable value: 'value')"
    )
    assert pulled.stdout == expected + "\n"
    due = runner.invoke(feed_app, ["pull"])
    assert "csv2: 4 new" in due.stdout
    assert "csv:" not in due.stdout.replace("csv2:", "")
    listed = runner.invoke(feed_app, ["list"])
    assert listed.exit_code == 0
    first = listed.stdout.splitlines()[0].split("\t")
    assert first[:4] == ["csv", "csv", url, "intel"]
    assert "ok stored=4 duplicates=0 refused=0" in first[5]


def test_pull_failure_exits_non_zero_with_one_line(engine: Engine, node: dict, server: FeedServer) -> None:
    runner.invoke(feed_app, ["add", "broken", "--url", server.url("missing.txt"), "--format", "text"])
    result = runner.invoke(feed_app, ["pull", "broken"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"accord: error: feed broken: {server.url('missing.txt')}: HTTP 404 Not Found\n"


def test_add_refuses_bad_options(engine: Engine, node: dict) -> None:
    for args in (
        ["add", "x", "--url", "ftp://example.org/list", "--format", "text"],
        ["add", "x", "--url", "http://example.org/list", "--format", "rss"],
        ["add", "x", "--url", "http://example.org/list", "--format", "text", "--type", "nonsense"],
        ["add", "x", "--url", "http://example.org/list", "--format", "text", "--tlp", "purple"],
    ):
        result = runner.invoke(feed_app, args)
        assert result.exit_code != 0
        assert result.exception is not None
        assert getattr(result.exception, "status", None) == 400


def test_a_feed_belongs_to_the_organisation_named_by_org(
    engine: Engine, node: dict, server: FeedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(engine) as conn:
        make_org(conn, "CERT Charlie")
        make_collection(conn, "benelux", readers=["CERT Charlie"], writers=["CERT Charlie"])
        host = accounts.host_org(conn).name
    url = server.url("blocklist.txt")

    def accord(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, "feed", *args)

    added = accord("add", "abuse", "--url", url, "--format", "text", "--collection", "benelux", "--org", "CERT Charlie")
    assert (added.code, added.err) == (0, "")
    assert accord("add", "own", "--url", url, "--format", "text").code == 0
    unknown = accord("add", "other", "--url", url, "--format", "text", "--org", "Nobody")
    assert unknown.code == 2
    assert unknown.err == "accord: error: no organisation named 'Nobody'\n"
    listed = [line.split("\t") for line in accord("list").out.splitlines()]
    assert [(cols[0], cols[3], cols[-1]) for cols in listed] == [
        ("abuse", "benelux", "CERT Charlie"),
        ("own", "-", host),
    ]
    shown = accord("show", "abuse").out.splitlines()
    for line in ("organisation: CERT Charlie", "link: feed:abuse", "source: feed:abuse", "speaks for: feed:abuse"):
        assert line in shown
    missing = accord("show", "other")
    assert (missing.code, missing.err) == (2, "accord: error: no feed named 'other'\n")
    assert run_cli(capsys, monkeypatch, "feed", "pull", "abuse").code == 0
    with transaction(engine) as conn:
        charlie = principal_for(conn, org_id=accounts.get_org_by_name_or_raise(conn, "CERT Charlie").id, role="analyst")
        assert len(list_latest(conn, charlie, types=["indicator"])) == 5
