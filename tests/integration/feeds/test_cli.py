"""`accord feed add|pull|list` (the sub-app the lead registers as `accord feed`)."""

from __future__ import annotations

from sqlalchemy import Engine
from typer.testing import CliRunner

from accord.cli.feed_cmd import feed_app
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
    assert "csv: stored 4, duplicates 0, refused 0, skipped 1 lines" in pulled.output  # the unskipped header row
    due = runner.invoke(feed_app, ["pull"])
    assert "csv2: stored" in due.stdout
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
    assert "broken: error: " in result.stdout
    assert "HTTP 404" in result.stdout


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
