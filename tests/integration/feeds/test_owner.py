"""A feed belongs to one organisation: who reads what it brings, at each TLP, through the REST API."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from accord.accounts import service as accounts
from accord.api.app import create_app
from accord.core.db import transaction
from accord.core.errors import BadRequest
from accord.feeds.pull import pull_feed
from accord.feeds.service import FeedSpec, add_feed
from accord.models.accounts import org
from accord.models.collections import peer, peer_org
from accord.models.objects import stix_object
from accord.stix.markings import Tlp
from tests.builders import bundle, make_collection, make_indicator, make_org
from tests.integration.feeds.server import FeedServer

LEVELS: list[Tlp | None] = [None, *Tlp]


def _readers(engine: Engine) -> dict[str, str]:
    """Orgs Feeder (owns the feed; reads and writes 'shared'), Partner (reads 'shared'), Outsider; their tokens."""
    tokens = {}
    with transaction(engine) as conn:
        for name in ("Feeder", "Partner", "Outsider"):
            make_org(conn, name)
        make_collection(conn, "shared", readers=["Feeder", "Partner"], writers=["Feeder"])
        host = accounts.host_org(conn)
        for who, org_name in (
            ("feeder", "Feeder"),
            ("partner", "Partner"),
            ("outsider", "Outsider"),
            ("host", host.name),
        ):
            email = f"{who}@example.org"
            accounts.create_user(conn, email, org_name, "analyst", None, actor="test")
            tokens[who] = accounts.create_token(conn, email, actor="test")
    return tokens


def _serve(server: FeedServer, path: str, objects: list[dict[str, Any]]) -> str:
    server.files[path] = orjson.dumps(bundle(*objects))
    return server.url(path)


def _add(engine: Engine, name: str, url: str, **extra: Any) -> Any:
    with transaction(engine) as conn:
        return add_feed(conn, FeedSpec(name=name, url=url, format="stix", collection="shared", **extra), actor="test")


def _reads(client: TestClient, token: str, oid: str) -> bool:
    got = client.get(f"/api/v1/objects/{oid}", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code in (200, 404), got.text
    return got.status_code == 200


@pytest.mark.parametrize("tlp", LEVELS, ids=lambda t: "unmarked" if t is None else t.name)
def test_the_feeds_org_reads_every_tlp_collection_readers_clear_and_green_only(
    engine: Engine, node: dict, server: FeedServer, tlp: Tlp | None
) -> None:
    tokens = _readers(engine)
    indicator = make_indicator(tlp=tlp)
    _add(engine, "partner-intel", _serve(server, "intel.json", [indicator]), org="Feeder")
    assert pull_feed(engine, "partner-intel").stored == 1
    client = TestClient(create_app(), raise_server_exceptions=False)
    shared_widely = tlp in (Tlp.CLEAR, Tlp.GREEN)  # unmarked counts as the node's default, TLP:AMBER (R5)
    assert _reads(client, tokens["feeder"], indicator["id"])
    assert _reads(client, tokens["partner"], indicator["id"]) is shared_widely
    assert not _reads(client, tokens["outsider"], indicator["id"])
    # The host organisation is no longer the owner of what feeds bring: it reads only what any reader may.
    assert not _reads(client, tokens["host"], indicator["id"])


def test_a_feeds_default_tlp_decides_for_its_unmarked_content(engine: Engine, node: dict, server: FeedServer) -> None:
    tokens = _readers(engine)
    unmarked, red = make_indicator(), make_indicator(tlp=Tlp.RED)
    _add(engine, "greenish", _serve(server, "intel.json", [unmarked, red]), org="Feeder", tlp="green")
    assert pull_feed(engine, "greenish").stored == 2
    client = TestClient(create_app(), raise_server_exceptions=False)
    assert _reads(client, tokens["partner"], unmarked["id"])
    assert not _reads(client, tokens["partner"], red["id"])
    assert _reads(client, tokens["feeder"], red["id"])


def test_feed_content_arrives_over_its_link_owned_by_its_source(engine: Engine, node: dict, server: FeedServer) -> None:
    _readers(engine)
    indicator = make_indicator(tlp=Tlp.GREEN)
    row = _add(engine, "partner-intel", _serve(server, "intel.json", [indicator]), org="Feeder")
    pull_feed(engine, "partner-intel")
    with transaction(engine) as conn:
        feeder = accounts.get_org_by_name_or_raise(conn, "Feeder")
        link = conn.execute(select(peer).where(peer.c.id == row.peer_id)).one()
        source = accounts.get_org(conn, row.source_org_id)
        stored = conn.execute(select(stix_object).where(stix_object.c.id == indicator["id"])).one()
        identity = conn.execute(select(stix_object).where(stix_object.c.id == source.stix_id)).one()
        spoken_for = set(conn.execute(select(peer_org.c.org_id).where(peer_org.c.peer_id == link.id)).scalars())
    assert row.org_id == feeder.id
    assert (link.name, link.kind, link.local_org_id) == ("feed:partner-intel", "feed", feeder.id)
    assert (source.name, source.is_remote, source.is_host) == ("feed:partner-intel", True, False)
    assert (stored.owner_org_id, stored.peer_id) == (source.id, link.id)
    # the source record's identity object, over the link: the feed's organisation reads it, others do not (R6 is
    # for the community's organisations)
    assert (identity.owner_org_id, identity.peer_id) == (source.id, link.id)
    assert spoken_for == {source.id}


def test_a_feed_cannot_claim_a_local_organisations_content(engine: Engine, node: dict, server: FeedServer) -> None:
    _readers(engine)
    with transaction(engine) as conn:
        partner_identity = accounts.get_org_by_name_or_raise(conn, "Partner").stix_id
    forged = make_indicator(tlp=Tlp.RED, created_by_ref=partner_identity)
    _add(engine, "forger", _serve(server, "intel.json", [forged]), org="Feeder")
    result = pull_feed(engine, "forger")
    assert (result.stored, result.refused) == (0, 1)
    assert "names another organisation" in result.reasons[0]


def test_feeds_belong_to_local_organisations_that_may_write_their_collection(engine: Engine, node: dict) -> None:
    _readers(engine)
    with transaction(engine) as conn:
        with pytest.raises(BadRequest, match="may not write collection 'shared'"):
            add_feed(
                conn, FeedSpec(name="x", url="http://example.org/l", format="text", collection="shared", org="Partner")
            )
        row = add_feed(conn, FeedSpec(name="x", url="http://example.org/l", format="text"))
        assert row.org_id == accounts.host_org(conn).id  # the default
        source_name = accounts.get_org(conn, row.source_org_id).name
        with pytest.raises(BadRequest, match="record of a remote one"):
            add_feed(conn, FeedSpec(name="y", url="http://example.org/l", format="text", org=source_name))
        with pytest.raises(BadRequest, match="record of a feed's source"):
            accounts.create_user(conn, "who@example.org", source_name, "analyst", None, actor="test")


def test_a_source_record_takes_a_free_name(engine: Engine, node: dict) -> None:
    with transaction(engine) as conn:
        make_org(conn, "feed:abuse")
        row = add_feed(conn, FeedSpec(name="abuse", url="http://example.org/l", format="text"))
        assert accounts.get_org(conn, row.source_org_id).name == "feed:abuse (source)"
        assert conn.execute(select(org.c.is_remote).where(org.c.name == "feed:abuse")).scalar_one() is False


def test_feed_source_records_are_not_listed_or_readable_to_every_user(
    engine: Engine, node: dict, server: FeedServer
) -> None:
    # Which sources an organisation's feeds use is that organisation's business: the source records are not
    # community members (R6 does not make their identities readable to all), and only admins list them.
    tokens = _readers(engine)
    _add(engine, "secret-source", _serve(server, "s.json", [make_indicator(tlp=Tlp.GREEN)]), org="Feeder")
    pull_feed(engine, "secret-source")
    with transaction(engine) as conn:
        source = conn.execute(select(org).where(org.c.is_remote.is_(True))).one()
        admin = accounts.create_user(conn, "root@example.org", accounts.host_org(conn).name, "admin", None)
        tokens["admin"] = accounts.create_token(conn, admin.email, actor="test")
    client = TestClient(create_app(), raise_server_exceptions=False)
    for who in ("partner", "outsider"):
        listed = client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {tokens[who]}"}).json()
        assert source.name not in {o["name"] for o in listed}
        assert {"Feeder", "Partner", "Outsider"} <= {o["name"] for o in listed}
        assert not _reads(client, tokens[who], source.stix_id)
    # the feed's organisation reads who made what its feed brings (the identity arrives over its link)
    assert _reads(client, tokens["feeder"], source.stix_id)
    listed = client.get("/api/v1/orgs", headers={"Authorization": f"Bearer {tokens['admin']}"}).json()
    assert {"name": source.name, "identity": source.stix_id, "host": False, "remote": True} in listed
