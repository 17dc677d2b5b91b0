"""The sharing rules as partners meet them through the API."""

from __future__ import annotations

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator


def _publish(org_name: str, alias: str, *objects):
    with get_engine().begin() as conn:
        org = accounts.get_org_by_name_or_raise(conn, org_name)
        col = accounts.get_collection_by_alias_or_raise(conn, alias)
        report = ingest(conn, objects, WriteContext(writer_org_id=org.id, collection_id=col.id))
        assert report.stored == len(objects)


def _setup(extra_orgs=()):
    with get_engine().begin() as conn:
        for name in extra_orgs:
            accounts.create_org(conn, name, actor="test")
        accounts.create_group(conn, "Everyone", ["Alpha", "Bravo", *extra_orgs])
        accounts.create_collection(conn, "Shared", "shared", readers=["Everyone"], writers=["Everyone"])


def test_amber_strict_and_red_never_leave_the_owner(node):
    _setup()
    red, strict, green = (
        make_indicator(tlp=Tlp.RED),
        make_indicator(tlp=Tlp.AMBER_STRICT),
        make_indicator(tlp=Tlp.GREEN),
    )
    _publish("Alpha", "shared", red, strict, green)
    c = node.client
    bob_ids = {o["id"] for o in c.get("/api/v1/objects?limit=1000", headers=node.bearer("bob")).json()["objects"]}
    assert green["id"] in bob_ids
    assert red["id"] not in bob_ids
    assert strict["id"] not in bob_ids
    alice_ids = {o["id"] for o in c.get("/api/v1/objects?limit=1000", headers=node.bearer("alice")).json()["objects"]}
    assert {red["id"], strict["id"], green["id"]} <= alice_ids
    admin_ids = {o["id"] for o in c.get("/api/v1/objects?limit=1000", headers=node.bearer("admin")).json()["objects"]}
    assert {red["id"], strict["id"]} <= admin_ids


def test_unreadable_by_id_is_404_exactly_like_missing(node):
    _setup()
    red = make_indicator(tlp=Tlp.RED)
    _publish("Alpha", "shared", red)
    c = node.client
    hidden = c.get(f"/api/v1/objects/{red['id']}", headers=node.bearer("bob"))
    missing = c.get("/api/v1/objects/indicator--00000000-0000-4000-8000-000000000000", headers=node.bearer("bob"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["title"] == missing.json()["title"]
    assert c.get(f"/api/v1/objects/{red['id']}/versions", headers=node.bearer("bob")).status_code == 404
    assert c.get(f"/api/v1/objects/{red['id']}", headers=node.bearer("alice")).status_code == 200


def test_amber_does_not_reach_an_org_that_only_shares_a_group_with_a_reader(node):
    # Alpha publishes AMBER into a collection only Bravo may read. Charlie shares a group with Bravo,
    # and Bravo re-publishes Alpha's object into a collection Charlie reads: Charlie must not see it (R4).
    _setup(extra_orgs=("Charlie",))
    with get_engine().begin() as conn:
        accounts.create_user(conn, "carol@charlie.example", "Charlie", "analyst", None)
        accounts.create_group(conn, "Bravo+Charlie", ["Bravo", "Charlie"])
        accounts.create_collection(conn, "Alpha to Bravo", "a2b", readers=["Bravo"], writers=["Alpha"])
        accounts.create_collection(conn, "Bravo circle", "bc", readers=["Bravo+Charlie"], writers=["Bravo"])
        carol = accounts.create_token(conn, "carol@charlie.example")
    amber, green = make_indicator(tlp=Tlp.AMBER), make_indicator(tlp=Tlp.GREEN)
    _publish("Alpha", "a2b", amber, green)
    with get_engine().begin() as conn:
        bravo = accounts.get_org_by_name_or_raise(conn, "Bravo")
        bc = accounts.get_collection_by_alias_or_raise(conn, "bc")
        report = ingest(conn, [amber, green], WriteContext(writer_org_id=bravo.id, collection_id=bc.id))
        assert report.duplicates == 2  # published into Bravo's circle as well
    c = node.client
    bob_ids = {o["id"] for o in c.get("/api/v1/objects?limit=1000", headers=node.bearer("bob")).json()["objects"]}
    assert {amber["id"], green["id"]} <= bob_ids
    headers = {"Authorization": f"Bearer {carol}"}
    carol_ids = {o["id"] for o in c.get("/api/v1/objects?limit=1000", headers=headers).json()["objects"]}
    assert green["id"] in carol_ids  # GREEN may travel a second hop
    assert amber["id"] not in carol_ids
    assert c.get(f"/api/v1/objects/{amber['id']}", headers=headers).status_code == 404


def test_unmarked_objects_follow_the_default_tlp(node, monkeypatch):
    _setup()
    unmarked = make_indicator()
    _publish("Alpha", "shared", unmarked)
    c = node.client
    # default AMBER: published by its owner into a collection Bravo reads -> readable
    assert c.get(f"/api/v1/objects/{unmarked['id']}", headers=node.bearer("bob")).status_code == 200
    monkeypatch.setenv("ACCORD_DEFAULT_TLP", "red")
    from accord.core.settings import get_settings

    get_settings.cache_clear()
    assert c.get(f"/api/v1/objects/{unmarked['id']}", headers=node.bearer("bob")).status_code == 404
