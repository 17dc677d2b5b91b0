"""Following the joint collections a peer shares (accord.federation.follow): each one once, into a new local
collection the link's organisation and the peer's read, or into an existing one only when it is shared with the
peer's organisation already; audited; a subscription removed by hand is not made again; a peer that cannot be
listed holds up nothing. The network path (two real nodes) is tests/e2e/test_joint_federation.py."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select

from accord.accounts.repository import get_collection_by_alias
from accord.accounts.service import change_grants, create_org
from accord.core import settings as core_settings
from accord.core.db import transaction
from accord.federation import follow as following
from accord.federation import repository as repo
from accord.federation.service import PeerSpec, add_peer, get_peer_or_raise, unsubscribe
from accord.models.audit import audit_log
from accord.sharing.repository import collections_for_org
from accord.worker.sync import run_now, sync_due
from tests.builders import make_collection


@pytest.fixture
def peer(engine: Engine) -> Any:
    with transaction(engine) as conn:
        create_org(conn, "Home", actor="test")
        add_peer(
            conn,
            PeerSpec(
                name="partner",
                url="http://127.0.0.1:9/taxii2/",
                org="Home",
                token="t",
                allow_private=True,
                remote_org="Partner",
            ),
            actor="test",
        )
        return get_peer_or_raise(conn, "partner")


def _alias(kind: str = "case") -> str:
    return f"{kind}-{uuid.uuid4()}"


def test_the_listing_yields_readable_joint_collections_only() -> None:
    case, rfi, pir = _alias(), _alias("rfi"), _alias("pir")
    listed = [
        {"id": "1", "alias": case, "can_read": True},
        {"id": "2", "alias": rfi},
        {"id": "3", "alias": pir, "can_read": False},
        {"id": "4", "alias": "with-alpha", "can_read": True},
        {"id": "5", "alias": f"task-{uuid.uuid4()}"},
        {"id": "6", "alias": case + "/../x"},
        {"id": "7", "alias": None},
        {"id": "8"},
    ]
    assert following.joint_collections(listed) == [("1", case), ("2", rfi)]


def test_a_joint_collection_is_followed_once_into_a_new_collection_both_organisations_read(
    engine: Engine, peer: Any
) -> None:
    alias = _alias()
    with transaction(engine) as conn:
        assert following.follow(conn, peer, "remote-1", alias, actor="sync")
        coll = get_collection_by_alias(conn, alias)
        home, partner = peer.local_org_id, peer.source_org_id
        assert coll.id in collections_for_org(conn, home, "read") & collections_for_org(conn, home, "write")
        assert coll.id in collections_for_org(conn, partner, "read")
        assert coll.id not in collections_for_org(conn, partner, "write")
        (sub,) = repo.list_subscriptions(conn, peer.id)
        assert (sub.direction, sub.remote_collection, sub.collection_id, sub.enabled) == ("pull", "remote-1", coll.id,
                                                                                          True)  # fmt: skip
        audited = conn.execute(select(audit_log.c.action, audit_log.c.detail).where(audit_log.c.target == "partner"))
        follows = [orjson.loads(d) for a, d in audited if a == "joint.follow"]
        assert follows == [{"remote_collection": "remote-1", "collection": alias}]
        # Again (the next sync): nothing new.
        assert not following.follow(conn, peer, "remote-1", alias, actor="sync")
        assert len(repo.list_subscriptions(conn, peer.id)) == 1
        # Removed by hand: not made again.
        unsubscribe(conn, "partner", "pull", "remote-1", alias)
        assert not following.follow(conn, peer, "remote-1", alias, actor="sync")
        assert [s.enabled for s in repo.list_subscriptions(conn, peer.id)] == [False]


def test_an_existing_collection_is_filled_only_once_shared_with_the_peers_organisation(
    engine: Engine, peer: Any
) -> None:
    alias = _alias("rfi")
    with transaction(engine) as conn:
        make_collection(conn, alias, readers=["Home"], writers=["Home"])
        assert not following.follow(conn, peer, "remote-2", alias, actor="sync")
        assert repo.list_subscriptions(conn, peer.id) == []
        change_grants(conn, alias, readers=["Partner"], writers=[], grant=True, actor="test")
        assert following.follow(conn, peer, "remote-2", alias, actor="sync")
        # Joint work of another local organisation (the link's cannot write it) is left to that one's own link.
        create_org(conn, "Other", actor="test")
        theirs = _alias()
        make_collection(conn, theirs, readers=["Other", "Partner"], writers=["Other"])
        assert not following.follow(conn, peer, "remote-3", theirs, actor="sync")
        assert [s.collection_alias for s in repo.list_subscriptions(conn, peer.id)] == [alias]


def test_a_peer_that_cannot_be_listed_holds_up_nothing(engine: Engine, peer: Any) -> None:
    following.follow_peers(engine, ["partner"])  # nothing listens on port 9: logged, not raised
    with transaction(engine) as conn:
        assert repo.list_subscriptions(conn, peer.id) == []


@pytest.mark.parametrize("enabled", [True, False])
def test_the_scheduled_sync_follows_each_peer_once_per_interval_unless_turned_off(
    engine: Engine, peer: Any, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    listed: list[list[str] | None] = []
    monkeypatch.setattr(following, "follow_peers", lambda _engine, names=None, **_: listed.append(names))
    monkeypatch.setenv("ACCORD_SYNC_EVERY_SECONDS", "300")
    monkeypatch.setenv("ACCORD_JOINT_FOLLOW", str(enabled).lower())
    core_settings.get_settings.cache_clear()
    try:
        sync_due(engine)
        sync_due(engine)  # within the interval: not again
        run_now(engine, ["partner"])  # asked for: always
    finally:
        core_settings.get_settings.cache_clear()
    assert listed == ([["partner"], ["partner"]] if enabled else [])
