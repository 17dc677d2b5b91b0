"""MISP feeds: each event's creator (Orgc) owns its content, distribution 0/4 keeps it to the feed's
organisation, and two organisations' feeds of the same source each hold their own copy."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Engine, func, select

from accord.accounts import service as accounts
from accord.core.db import transaction
from accord.core.errors import BadRequest
from accord.feeds.misp import event_creator
from accord.feeds.pull import pull_feed
from accord.feeds.service import FeedSpec, add_feed
from accord.models.accounts import org
from accord.models.collections import peer_org
from accord.models.objects import stix_object
from accord.sharing.repository import principal_for
from accord.store.queries import get_latest
from tests.builders import make_collection, make_ipv4, make_org
from tests.integration.feeds.server import FeedServer

EV1, EV2, EV3 = (f"5f0c2a1e-6b1d-4c3a-9e2f-1a2b3c4d5e0{i}" for i in (1, 2, 3))
EV1_INDICATOR = "indicator--0a6f7e21-1c2d-4e3f-8a9b-0c1d2e3f4a01"  # EV1's first attribute, TLP:GREEN


@pytest.fixture
def community(engine: Engine, node: dict) -> None:
    """Alpha and Bravo, each reading and writing a collection of its own; Outsider reads nothing."""
    with transaction(engine) as conn:
        for name in ("Alpha", "Bravo", "Outsider"):
            make_org(conn, name)
        make_collection(conn, "alpha", readers=["Alpha"], writers=["Alpha"])
        make_collection(conn, "bravo", readers=["Bravo"], writers=["Bravo"])
        make_collection(conn, "shared", readers=["Alpha", "Bravo"], writers=["Alpha"])


def _mirror(server: FeedServer, prefix: str) -> str:
    """Serve the MISP fixture feed under a prefix, its manifest naming all three events; its URL."""
    for path, body in list(server.files.items()):
        if path.startswith("misp/"):
            server.files[f"{prefix}/{path.removeprefix('misp/')}"] = body
    manifest = orjson.loads(server.files[f"{prefix}/manifest.json"])
    event = _event_doc(server, EV3)["Event"]
    manifest[EV3] = {"info": event["info"], "date": event["date"], "timestamp": event["timestamp"]}
    server.files[f"{prefix}/manifest.json"] = orjson.dumps(manifest)
    return server.url(f"{prefix}/")


def _add(engine: Engine, name: str, url: str, org_name: str, collection: str) -> Any:
    with transaction(engine) as conn:
        spec = FeedSpec(name=name, url=url, format="misp", collection=collection, org=org_name)
        return add_feed(conn, spec, actor="test")


def _reader(conn: Connection, org_name: str) -> Any:
    return principal_for(conn, org_id=accounts.get_org_by_name_or_raise(conn, org_name).id, role="analyst")


def _reads(conn: Connection, org_name: str, oid: str) -> dict[str, Any] | None:
    return get_latest(conn, _reader(conn, org_name), oid)


def _creator(server: FeedServer, event_uuid: str) -> Any:
    creator = event_creator(_event_doc(server, event_uuid)["Event"])
    assert creator is not None
    return creator


def _event_doc(server: FeedServer, event_uuid: str) -> dict[str, Any]:
    """An event document of the served fixture feed."""
    return orjson.loads(server.files[f"misp/{event_uuid}.json"])


def _edit(server: FeedServer, prefix: str, event_uuid: str, change: Any) -> None:
    """Change a served event and bump its timestamp in the manifest, so that the next pull fetches it."""
    doc = orjson.loads(server.files[f"{prefix}/{event_uuid}.json"])
    change(doc["Event"])
    server.files[f"{prefix}/{event_uuid}.json"] = orjson.dumps(doc)
    manifest = orjson.loads(server.files[f"{prefix}/manifest.json"])
    manifest[event_uuid]["timestamp"] = doc["Event"]["timestamp"]
    server.files[f"{prefix}/manifest.json"] = orjson.dumps(manifest)


def test_each_events_creator_owns_its_content(engine: Engine, community: None, server: FeedServer) -> None:
    feed = _add(engine, "circl", _mirror(server, "m"), "Alpha", "shared")
    result = pull_feed(engine, "circl")
    assert (result.status, result.refused) == ("ok", 0), result.reasons
    circl, cert_ex = _creator(server, EV1), _creator(server, EV2)
    assert _creator(server, EV3) == circl
    with transaction(engine) as conn:
        records = {
            r.name: r for r in conn.execute(select(org).where(org.c.stix_id.in_([circl.identity, cert_ex.identity])))
        }
        assert set(records) == {"CIRCL", "CERT-EX"}
        assert all(r.is_remote and not r.is_host for r in records.values())
        stored = select(stix_object.c.id, stix_object.c.owner_org_id).where(stix_object.c.peer_id == feed.peer_id)
        owners = dict(conn.execute(stored).all())
        assert owners[f"report--{EV1}"] == owners[f"report--{EV3}"] == owners[EV1_INDICATOR] == records["CIRCL"].id
        assert owners[make_ipv4("198.51.100.7")["id"]] == records["CIRCL"].id  # an observable of EV1
        assert owners[f"report--{EV2}"] == records["CERT-EX"].id
        spoken_for = set(conn.execute(select(peer_org.c.org_id).where(peer_org.c.peer_id == feed.peer_id)).scalars())
        assert spoken_for == {feed.source_org_id, records["CIRCL"].id, records["CERT-EX"].id}
        report = _reads(conn, "Alpha", f"report--{EV1}")
        assert report is not None
        assert report["created_by_ref"] == circl.identity
        assert _reads(conn, "Alpha", circl.identity)["name"] == "CIRCL"  # its identity object, over the feed's link
        assert _reads(conn, "Outsider", circl.identity) is None  # a remote record is no community member (R6)
        # Alpha reads its feed's AMBER event; Bravo, another reader of the collection, its GREEN one only.
        assert _reads(conn, "Alpha", f"report--{EV2}") is not None
        assert _reads(conn, "Bravo", f"report--{EV1}") is not None
        assert _reads(conn, "Bravo", f"report--{EV2}") is None
        with pytest.raises(BadRequest, match="record of a feed's source"):
            accounts.create_user(conn, "someone@circl.example", "CIRCL", "analyst", None, actor="test")
    again = pull_feed(engine, "circl")  # nothing new: the records are found again, not made twice
    assert again.status == "not-modified"
    with transaction(engine) as conn:
        assert conn.execute(select(func.count()).select_from(org).where(org.c.name.like("CIRCL%"))).scalar_one() == 1


def test_a_creator_named_like_a_local_organisation_gets_a_name_of_its_own(
    engine: Engine, community: None, server: FeedServer
) -> None:
    with transaction(engine) as conn:
        local = make_org(conn, "CIRCL")
    _add(engine, "circl", server.url("misp/"), "Alpha", "shared")
    result = pull_feed(engine, "circl")
    assert (result.status, result.refused) == ("ok", 0), result.error
    with transaction(engine) as conn:
        record = accounts.get_org_by_identity(conn, _creator(server, EV1).identity)
        assert record.name == "CIRCL (MISP 55f6ea5e)"
        owned = select(func.count()).select_from(stix_object).where(stix_object.c.owner_org_id == local.id)
        assert conn.execute(owned).scalar_one() == 1  # its identity object: nothing the feed brought


def test_a_creator_uuid_naming_a_local_organisation_does_not_make_the_content_its(
    engine: Engine, community: None, server: FeedServer
) -> None:
    with transaction(engine) as conn:
        bravo = accounts.get_org_by_name_or_raise(conn, "Bravo")
    forged = _event_doc(server, EV1)
    forged["Event"]["Orgc"] = {"name": "Bravo", "uuid": bravo.stix_id.removeprefix("identity--")}
    server.files[f"misp/{EV1}.json"] = orjson.dumps(forged)
    feed = _add(engine, "circl", server.url("misp/"), "Alpha", "alpha")
    result = pull_feed(engine, "circl")
    assert (result.status, result.refused) == ("ok", 0), result.error
    with transaction(engine) as conn:
        owner = conn.execute(
            select(stix_object.c.owner_org_id).where(
                stix_object.c.id == f"report--{EV1}", stix_object.c.peer_id == feed.peer_id
            )
        ).scalar_one()
        assert owner != bravo.id
        assert accounts.get_org(conn, owner).is_remote
        assert _reads(conn, "Bravo", f"report--{EV1}") is None  # Bravo reads neither collection nor link


def test_distribution_0_and_4_keep_content_to_the_feeds_organisation(
    engine: Engine, community: None, server: FeedServer
) -> None:
    def organisation_only(event: dict[str, Any]) -> None:
        event["distribution"] = "0"

    def one_attribute_for_a_sharing_group(event: dict[str, Any]) -> None:
        event["distribution"] = "3"
        event["Attribute"][0]["distribution"] = "4"
        event["Attribute"][1]["distribution"] = "5"

    url = _mirror(server, "m")
    _edit(server, "m", EV1, organisation_only)
    _edit(server, "m", EV3, one_attribute_for_a_sharing_group)
    _add(engine, "circl", url, "Alpha", "shared")
    result = pull_feed(engine, "circl")
    assert (result.status, result.refused) == ("ok", 0), result.error
    ev3 = orjson.loads(server.files[f"m/{EV3}.json"])["Event"]
    local_attribute, inheriting = (f"indicator--{a['uuid']}" for a in ev3["Attribute"][:2])
    with transaction(engine) as conn:
        ev1_ids = [f"report--{EV1}", EV1_INDICATOR, make_ipv4("198.51.100.7")["id"]]
        for oid in ev1_ids:  # TLP:GREEN in MISP's tags, but for the creator's organisation only
            assert _reads(conn, "Alpha", oid) is not None
            assert _reads(conn, "Bravo", oid) is None
            assert _reads(conn, "Outsider", oid) is None
        assert _reads(conn, "Alpha", local_attribute) is not None
        assert _reads(conn, "Bravo", local_attribute) is None
        assert _reads(conn, "Bravo", inheriting) is not None  # TLP:CLEAR, shared with all communities
        assert _reads(conn, "Bravo", f"report--{EV3}") is not None


def test_two_organisations_feeds_of_one_source_hold_a_copy_each(
    engine: Engine, community: None, server: FeedServer
) -> None:
    a = _add(engine, "alpha-circl", _mirror(server, "a"), "Alpha", "alpha")
    b = _add(engine, "bravo-circl", _mirror(server, "b"), "Bravo", "bravo")
    first, second = pull_feed(engine, "alpha-circl"), pull_feed(engine, "bravo-circl")
    assert (first.status, first.refused) == ("ok", 0), first.reasons
    # Bravo's pull stores what Alpha's did: nothing of Alpha's copy decides it.
    assert (second.stored, second.duplicates, second.refused) == (first.stored, first.duplicates, 0)
    with transaction(engine) as conn:
        links = set(conn.execute(select(stix_object.c.peer_id).where(stix_object.c.id == f"report--{EV2}")).scalars())
        assert links == {a.peer_id, b.peer_id}
        for name in ("Alpha", "Bravo"):  # the AMBER event: each organisation its own copy
            assert _reads(conn, name, f"report--{EV2}") is not None
        assert _reads(conn, "Outsider", f"report--{EV2}") is None

    def confirmed(event: dict[str, Any]) -> None:
        event["timestamp"] = event["Attribute"][0]["timestamp"] = "1768060000"
        event["Attribute"][0]["comment"] = "C2 server (confirmed)"

    _edit(server, "b", EV1, confirmed)
    assert pull_feed(engine, "bravo-circl").stored == 2  # the changed indicator and its event's report
    assert pull_feed(engine, "alpha-circl").status == "not-modified"
    with transaction(engine) as conn:
        assert _reads(conn, "Bravo", EV1_INDICATOR)["description"] == "C2 server (confirmed)"
        assert _reads(conn, "Alpha", EV1_INDICATOR)["description"] == "C2 server"
