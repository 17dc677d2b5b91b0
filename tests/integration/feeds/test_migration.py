"""Migration 0008: feeds that existed before owners get the host organisation, a link and a source record."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, inspect, select, text

from accord.accounts import service as accounts
from accord.core.db import transaction
from accord.core.migrate import alembic_config, upgrade
from accord.core.names import name_key
from accord.core.settings import get_settings
from accord.demo.service import ensure_host_org
from accord.feeds.pull import pull_feed
from accord.feeds.service import get_feed_or_raise
from accord.models.collections import peer, peer_org
from accord.models.objects import stix_object
from tests.integration.feeds.server import FeedServer

BEFORE = "0007"  # the revision before feeds had owners


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _old_feed(conn: Connection, name: str, url: str) -> int:
    """A feed row as revision 0007 stores it, with one pull and one delivered mark (SQL of that schema)."""
    conn.execute(
        text(
            "INSERT INTO feed (name, url, format, delimiter, skip_header, timeout_seconds, max_bytes, enabled, "
            "created_us) VALUES (:name, :url, 'text', ',', false, 30, 1000000, true, 1)"
        ),
        {"name": name, "url": url},
    )
    feed_id = conn.execute(text("SELECT id FROM feed WHERE name = :name"), {"name": name}).scalar_one()
    conn.execute(
        text(
            "INSERT INTO feed_pull (feed_id, started_us, finished_us, status, fetched_bytes, stored, duplicates, "
            "refused) VALUES (:f, 1, 2, 'ok', 10, 3, 0, 0)"
        ),
        {"f": feed_id},
    )
    conn.execute(text("INSERT INTO feed_mark (feed_id, key, stamp) VALUES (:f, 'k', 's')"), {"f": feed_id})
    return int(feed_id)


def _old_org(conn: Connection, name: str, *, is_host: bool) -> int:
    conn.execute(
        text(
            "INSERT INTO org (name, name_key, stix_id, is_host, is_remote, created_us) "
            "VALUES (:name, :key, :sid, :host, false, 1)"
        ),
        {"name": name, "key": name_key(name), "sid": f"identity--{'1' * 8}-1111-4111-8111-{'1' * 12}", "host": is_host},
    )
    return int(conn.execute(text("SELECT id FROM org WHERE name = :name"), {"name": name}).scalar_one())


def _linked(conn: Connection, feed: Any) -> tuple[Any, Any, set[int]]:
    link = conn.execute(select(peer).where(peer.c.id == feed.peer_id)).one()
    source = accounts.get_org(conn, feed.source_org_id)
    spoken_for = set(conn.execute(select(peer_org.c.org_id).where(peer_org.c.peer_id == link.id)).scalars())
    return link, source, spoken_for


def _source_identity(conn: Connection, feed: Any) -> str:
    """The identity id of a feed's source record."""
    return str(accounts.get_org(conn, feed.source_org_id).stix_id)


def test_existing_feeds_get_the_host_organisation_a_link_and_a_source(engine: Engine, server: FeedServer) -> None:
    _downgrade(engine, BEFORE)
    with engine.begin() as conn:
        host_id = _old_org(conn, "Our CERT", is_host=True)
        _old_feed(conn, "abuse", server.url("blocklist.txt"))
        _old_feed(conn, "other", "http://example.org/list.txt")
    upgrade(engine)
    with transaction(engine) as conn:
        feeds = [get_feed_or_raise(conn, name) for name in ("abuse", "other")]
        for feed in feeds:
            link, source, spoken_for = _linked(conn, feed)
            assert feed.org_id == host_id
            assert (link.name, link.kind, link.local_org_id, link.url) == (
                f"feed:{feed.name}",
                "feed",
                host_id,
                feed.url,
            )
            assert (source.name, source.is_remote, source.is_host) == (f"feed:{feed.name}", True, False)
            assert spoken_for == {source.id}
        assert feeds[0].source_org_id != feeds[1].source_org_id
        assert len(conn.execute(text("SELECT * FROM feed_pull")).all()) == 2
    # The next pull stores over the link, owned by the source record, whose identity object it stores too.
    result = pull_feed(engine, "abuse")
    assert (result.status, result.stored) == ("ok", 5), result.error
    with transaction(engine) as conn:
        owners = set(
            conn.execute(
                select(stix_object.c.owner_org_id, stix_object.c.peer_id).where(stix_object.c.type == "indicator")
            )
        )
        assert owners == {(feeds[0].source_org_id, feeds[0].peer_id)}
        identity = conn.execute(
            select(stix_object.c.owner_org_id).where(stix_object.c.id == _source_identity(conn, feeds[0]))
        )
        assert identity.scalar_one() == feeds[0].source_org_id


def test_a_node_with_feeds_but_no_host_organisation_gets_one(engine: Engine) -> None:
    _downgrade(engine, BEFORE)
    with engine.begin() as conn:
        _old_feed(conn, "early", "http://example.org/list.txt")  # `accord feed add` before `accord init`
    upgrade(engine)
    with transaction(engine) as conn:
        host = accounts.host_org(conn)
        assert host is not None
        assert host.name == get_settings().host_org
        assert get_feed_or_raise(conn, "early").org_id == host.id
        assert conn.execute(select(stix_object.c.seq).where(stix_object.c.id == host.stix_id)).first() is None
        assert ensure_host_org(conn) == host.id  # what `accord init` does next stores its identity object
        assert conn.execute(
            select(stix_object.c.owner_org_id).where(stix_object.c.id == host.stix_id)
        ).scalar_one() == (host.id)


def test_downgrade_keeps_pulls_and_marks(engine: Engine) -> None:
    _downgrade(engine, BEFORE)
    with engine.begin() as conn:
        _old_org(conn, "Our CERT", is_host=True)
        _old_feed(conn, "abuse", "http://example.org/list.txt")
    upgrade(engine)
    _downgrade(engine, BEFORE)  # on SQLite the feed table is rebuilt, which would cascade to its pulls and marks
    assert "org_id" not in {c["name"] for c in inspect(engine).get_columns("feed")}
    assert "kind" not in {c["name"] for c in inspect(engine).get_columns("peer")}
    with engine.begin() as conn:
        assert len(conn.execute(text("SELECT * FROM feed_pull")).all()) == 1
        assert conn.execute(text("SELECT key, stamp FROM feed_mark")).all() == [("k", "s")]
    upgrade(engine)  # the links and source records kept: the new ones take free names
    with transaction(engine) as conn:
        feed = get_feed_or_raise(conn, "abuse")
        link, source, _ = _linked(conn, feed)
        assert feed.org_id == accounts.host_org(conn).id
        assert (link.name, source.name) == ("feed:abuse (link)", "feed:abuse (source)")
