"""Text, CSV and STIX feeds pulled from a real loopback HTTP server: conditional requests, changes, failures."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import Engine, select

from accord.core.db import transaction
from accord.feeds.pull import pull_feed
from accord.feeds.service import get_feed_or_raise
from accord.feeds.tasks import pull_due
from accord.models.objects import stix_object
from accord.remote.taxii import TaxiiClient
from tests.builders import bundle, make_indicator
from tests.integration.feeds.conftest import add, counts, pull_rows
from tests.integration.feeds.server import FeedServer
from tests.medallion import date_added, running_medallion


def _indicators(engine: Engine) -> dict[str, dict]:
    with transaction(engine) as conn:
        # In seq order, so that each name maps to its newest version (the row order of a scan is not).
        rows = conn.execute(
            select(stix_object.c.raw).where(stix_object.c.type == "indicator").order_by(stix_object.c.seq)
        )
        objs = [orjson.loads(r.raw) for r in rows]
    return {o["name"]: o for o in objs}


def test_text_feed_stores_values_as_indicators(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "bl", server.url("blocklist.txt"), "text", tlp="green")
    result = pull_feed(engine, "bl")
    assert result.status == "ok", result.error
    # Five indicators and the TLP:GREEN marking definition: the node's own is another copy (the host's, no link).
    assert (result.stored, result.duplicates, result.refused) == (6, 0, 0)
    found = _indicators(engine)
    assert set(found) == {
        "203.0.113.45",
        "198.51.100.23",
        "evil-update.example-bad.net",
        "http://payload.example-bad.net/dl/stage2.bin",
        "44d88612fea8a8f36de82e1278abb02f",
    }
    assert found["198.51.100.23"]["description"] == "scanner"
    assert found["http://payload.example-bad.net/dl/stage2.bin"]["pattern"] == (
        "[url:value = 'http://payload.example-bad.net/dl/stage2.bin']"
    )
    assert found["44d88612fea8a8f36de82e1278abb02f"]["pattern"].startswith("[file:hashes.'MD5' = ")
    assert all(
        o["object_marking_refs"] == ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"] for o in found.values()
    )
    assert all(o["valid_from"] == o["created"] for o in found.values())


def test_second_pull_writes_nothing_on_304_and_on_same_content(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "bl", server.url("blocklist.txt"), "text")
    assert pull_feed(engine, "bl").status == "ok"
    before = counts(engine)
    again = pull_feed(engine, "bl")
    assert (again.status, again.http_status, again.stored) == ("not-modified", 304, 0)
    assert server.requests[-1][1].get("If-None-Match")
    assert counts(engine) == before
    server.conditional = False  # a server without validators: the content hash notices nothing changed
    same = pull_feed(engine, "bl")
    assert (same.status, same.http_status) == ("not-modified", 200)
    assert counts(engine) == before
    assert [p.status for p in pull_rows(engine)] == ["ok", "not-modified", "not-modified"]


def test_changed_feed_writes_only_the_changes(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "bl", server.url("blocklist.txt"), "text")
    pull_feed(engine, "bl")
    first = _indicators(engine)
    objects, members = counts(engine)
    server.files["blocklist.txt"] += b"192.0.2.200\n"
    server.files["blocklist.txt"] = server.files["blocklist.txt"].replace(b"# scanner", b"# mass scanner")
    result = pull_feed(engine, "bl")
    assert (result.status, result.stored, result.duplicates) == ("ok", 2, 4)
    assert counts(engine) == (objects + 2, members + 2)
    now = _indicators(engine)
    assert now["203.0.113.45"] == first["203.0.113.45"]  # unchanged values re-pull identically
    changed = now["198.51.100.23"]
    assert changed["description"] == "mass scanner"
    assert changed["created"] == first["198.51.100.23"]["created"] < changed["modified"]


def test_csv_feed_with_column_mapping(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "csv", server.url("iocs.csv"), "csv", csv_columns="type=1,value=2,comment=3", skip_header=True)
    result = pull_feed(engine, "csv")
    assert (result.status, result.stored, result.refused, result.skipped) == ("ok", 4, 0, 0)
    found = _indicators(engine)
    assert found["192.0.2.77"]["description"] == "C2, port 443"
    assert found["c2.example-bad.org"]["pattern"] == "[domain-name:value = 'c2.example-bad.org']"
    assert (
        found["http://c2.example-bad.org/it's/here"]["pattern"]
        == "[url:value = 'http://c2.example-bad.org/it\\'s/here']"
    )


def test_stix_bundle_feed(engine: Engine, node: dict, server: FeedServer) -> None:
    server.files["bundle.json"] = orjson.dumps(bundle(make_indicator(), make_indicator()))
    add(engine, "stix", server.url("bundle.json"), "stix")
    assert pull_feed(engine, "stix").stored == 2
    assert pull_feed(engine, "stix").status == "not-modified"


def test_http_500_is_a_clear_error_and_loses_nothing(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "bl", server.url("blocklist.txt"), "text")
    pull_feed(engine, "bl")
    before = counts(engine)
    server.fail = 500
    server.files["blocklist.txt"] += b"192.0.2.201\n"
    result = pull_feed(engine, "bl")
    assert result.status == "error"
    assert result.error is not None
    assert "HTTP 500" in result.error
    assert "\n" not in result.error
    assert counts(engine) == before
    assert pull_rows(engine)[-1].error == result.error
    server.fail = None  # recovery: the next pull fetches (no stale validators were saved) and stores the change
    assert pull_feed(engine, "bl").stored == 1


def test_timeout_is_reported(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "slow", server.url("blocklist.txt"), "text", timeout_seconds=0.2)
    server.delay = 1.0
    result = pull_feed(engine, "slow")
    assert result.status == "error"
    assert result.error is not None
    assert "timed out" in result.error
    assert counts(engine)[1] == 0


def test_invalid_content_and_unreachable_hosts(engine: Engine, node: dict, server: FeedServer) -> None:
    server.files["page.html"] = b"<html><body>Login required</body></html>"
    add(engine, "html", server.url("page.html"), "text")
    with transaction(engine) as conn:
        assert get_feed_or_raise(conn, "html").timeout_seconds == 30
    add(engine, "gone", "http://feeds.invalid/list.txt", "text", timeout_seconds=2)
    add(engine, "badjson", server.url("page.html"), "stix")
    before = counts(engine)
    for name, needle in (("html", "invalid content"), ("gone", "feeds.invalid"), ("badjson", "not valid JSON")):
        result = pull_feed(engine, name)
        assert result.status == "error"
        assert result.error is not None
        assert needle in result.error
    assert counts(engine) == before


def test_pull_due_pulls_only_feeds_whose_interval_passed(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "hourly", server.url("blocklist.txt"), "text", every_minutes=60)
    add(engine, "manual", server.url("iocs.csv"), "csv")
    assert pull_due(engine) == 1
    assert pull_due(engine) == 0
    assert [p.feed_id for p in pull_rows(engine)] == [1]


def test_taxii_collection_pages_and_resumes(engine: Engine, node: dict, tmp_path: Path) -> None:
    first, second, third = make_indicator(), make_indicator(), make_indicator()
    with running_medallion(tmp_path, [first, second, third], page_size=2) as taxii:
        add(engine, "tx", taxii.discovery, "taxii", taxii_collection=taxii.collection, username=taxii.username,
            password=taxii.password)  # fmt: skip
        result = pull_feed(engine, "tx")
        assert (result.status, result.stored) == ("ok", 3)
        with transaction(engine) as conn:
            feed = get_feed_or_raise(conn, "tx")
            assert feed.cursor == date_added(2)
            assert feed.timeout_seconds == 120  # a TAXII feed's default; other formats keep 30
        assert pull_feed(engine, "tx").status == "not-modified"
        with TaxiiClient(taxii.remote()) as client:
            client.add_objects(taxii.collection, [make_indicator(), make_indicator()])
        assert pull_feed(engine, "tx").stored == 2  # only what was added after the cursor


def test_taxii_feed_errors_are_one_line(engine: Engine, node: dict, tmp_path: Path) -> None:
    with running_medallion(tmp_path) as taxii:
        add(engine, "tx", taxii.api_root, "taxii", taxii_collection=taxii.collection, username="nobody")
        result = pull_feed(engine, "tx")
    assert result.status == "error"
    assert result.error is not None
    assert "HTTP 401" in result.error
    assert "\n" not in result.error
