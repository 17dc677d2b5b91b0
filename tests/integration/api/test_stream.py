"""GET /api/v1/stream: a collection's additions and removals as server-sent events, through the one policy."""

from __future__ import annotations

import orjson
import pytest

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.remote.sse import Event, EventParser, split_lines
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator

STREAM = "/api/v1/stream"


def _publish(org_name: str, alias: str, *objects) -> None:
    with get_engine().begin() as conn:
        org = accounts.get_org_by_name_or_raise(conn, org_name)
        col = accounts.get_collection_by_alias_or_raise(conn, alias)
        report = ingest(conn, objects, WriteContext(writer_org_id=org.id, collection_id=col.id))
        assert report.stored + report.duplicates == len(objects)


def _setup() -> None:
    with get_engine().begin() as conn:
        accounts.create_group(conn, "Everyone", ["Alpha", "Bravo"])
        accounts.create_collection(conn, "Shared", "shared", readers=["Everyone"], writers=["Everyone"])
        accounts.create_collection(conn, "Alpha only", "alpha", readers=["Alpha"], writers=["Alpha"])


def _events(node, who: str, params: dict, headers: dict | None = None) -> list[Event]:
    """What the stream sends now (wait=0: what is committed, then the server closes)."""
    response = node.client.get(STREAM, params={"wait": 0, **params}, headers={**node.bearer(who), **(headers or {})})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return list(EventParser().parse(split_lines([response.text])))


def _ids(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.event, orjson.loads(e.data)["id"]) for e in events]


def _delete(node, who: str, alias: str, object_id: str) -> None:
    response = node.client.delete(f"/taxii2/api/collections/{alias}/objects/{object_id}/", headers=node.bearer(who))
    assert response.status_code == 200, response.text


def test_objects_arrive_in_order_and_a_removal_arrives_as_removed(node):
    _setup()
    first, second, third = make_indicator(tlp=Tlp.GREEN), make_indicator(tlp=Tlp.GREEN), make_indicator()
    _publish("Alpha", "shared", first, second)
    _publish("Alpha", "shared", third)
    events = _events(node, "alice", {"collection": "shared", "from": "start"})
    assert _ids(events) == [("object", first["id"]), ("object", second["id"]), ("object", third["id"])]
    assert orjson.loads(events[0].data) == first  # the STIX object as it was stored
    assert len({e.id for e in events}) == len(events)
    _delete(node, "alice", "shared", second["id"])
    [removed] = _events(node, "alice", {"collection": "shared"}, {"Last-Event-ID": events[-1].id})
    with get_engine().connect() as conn:
        shared = accounts.get_collection_by_alias_or_raise(conn, "shared")
    assert removed.event == "removed"
    version = second["modified"].replace(".000Z", ".000000Z")  # as TAXII states versions
    assert orjson.loads(removed.data) == {"id": second["id"], "version": version, "collection": shared.uuid}
    # from the start: the collection as it is, and the removal (its membership is gone: a consumer that never
    # saw the version applies the removal as a no-op); the collection's id works as its alias does
    replay = [("object", first["id"]), ("object", third["id"]), ("removed", second["id"])]
    assert _ids(_events(node, "alice", {"collection": "shared", "from": "start"})) == replay
    assert _ids(_events(node, "alice", {"collection": shared.uuid, "from": "start"})) == replay


def test_a_readded_version_comes_after_its_removal(node):
    _setup()
    ob = make_indicator(tlp=Tlp.GREEN)
    _publish("Alpha", "shared", ob)
    [added] = _events(node, "bob", {"collection": "shared", "from": "start"})
    _delete(node, "alice", "shared", ob["id"])
    _publish("Alpha", "shared", ob)
    got = _ids(_events(node, "bob", {"collection": "shared"}, {"Last-Event-ID": added.id}))
    assert got == [("removed", ob["id"]), ("object", ob["id"])]


def test_without_a_position_the_stream_starts_now(node):
    _setup()
    _publish("Alpha", "shared", make_indicator(tlp=Tlp.GREEN))
    assert _events(node, "bob", {"collection": "shared"}) == []


@pytest.mark.parametrize("by_header", [True, False])
def test_resuming_gets_exactly_the_rest(node, by_header):
    _setup()
    objects = [make_indicator(tlp=Tlp.GREEN) for _ in range(5)]
    _publish("Alpha", "shared", *objects[:3])
    _delete(node, "alice", "shared", objects[1]["id"])
    everything = _events(node, "bob", {"collection": "shared", "from": "start"})
    for cut in range(len(everything)):
        last = everything[cut].id
        resume = {"headers": {"Last-Event-ID": last}} if by_header else {"params": {"last_event_id": last}}
        rest = _events(node, "bob", {"collection": "shared", **resume.get("params", {})}, resume.get("headers"))
        assert _ids(rest) == _ids(everything[cut + 1 :])
    # what is published after the last event follows it, once
    _publish("Alpha", "shared", *objects[3:])
    rest = _events(node, "bob", {"collection": "shared"}, {"Last-Event-ID": everything[-1].id})
    assert _ids(rest) == [("object", objects[3]["id"]), ("object", objects[4]["id"])]


def test_what_a_caller_may_not_read_never_appears_and_leaves_no_trace(node):
    _setup()
    with get_engine().begin() as conn:
        accounts.create_org(conn, "Charlie", actor="test")
        accounts.create_group(conn, "Bravo+Charlie", ["Bravo", "Charlie"])
        accounts.create_collection(conn, "Circle", "bc", readers=["Bravo+Charlie"], writers=["Alpha", "Bravo"])
        accounts.create_collection(conn, "Alpha to Bravo", "a2b", readers=["Bravo"], writers=["Alpha"])
    visible = make_indicator(tlp=Tlp.GREEN)
    red, strict = make_indicator(tlp=Tlp.RED), make_indicator(tlp=Tlp.AMBER_STRICT)
    amber_linked = make_indicator(tlp=Tlp.AMBER)
    alpha_only = make_indicator(tlp=Tlp.GREEN)
    _publish("Alpha", "alpha", alpha_only)
    _publish("Alpha", "a2b", amber_linked)
    _publish("Alpha", "bc", visible, red, strict)
    # Bravo may read the AMBER object (Alpha published it to Bravo) and passes it on into the circle: Charlie
    # must not read it there, as the owner never published it into the circle (R4)
    _publish("Bravo", "bc", amber_linked)
    bob = _events(node, "bob", {"collection": "bc", "from": "start"})
    assert _ids(bob) == [("object", visible["id"]), ("object", amber_linked["id"])]
    # a Charlie member sees only what Charlie may read, and nothing else: not even a gap between ids
    with get_engine().begin() as conn:
        accounts.create_user(conn, "carol@charlie.example", "Charlie", "analyst", None)
        node.tokens["carol"] = accounts.create_token(conn, "carol@charlie.example")
    carol = _events(node, "carol", {"collection": "bc", "from": "start"})
    assert _ids(carol) == [("object", visible["id"])]
    hidden = {red["id"], strict["id"], amber_linked["id"], alpha_only["id"]}
    for e in carol:
        assert not any(h in e.data for h in hidden)
    # Carol's stream of a collection with and without hidden rows is the same stream: one event, same shape
    assert len(carol[0].id) == len(bob[0].id)
    # the collection Bravo cannot read is as unknown as a missing one (R7)
    for key in ("alpha", "nope"):
        response = node.client.get(STREAM, params={"collection": key, "wait": 0}, headers=node.bearer("bob"))
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


def test_removals_are_seen_by_exactly_those_the_membership_let_read(node):
    _setup()
    with get_engine().begin() as conn:
        accounts.create_collection(conn, "Alpha to Bravo", "a2b", readers=["Alpha", "Bravo"], writers=["Alpha"])
    red, green, amber = make_indicator(tlp=Tlp.RED), make_indicator(tlp=Tlp.GREEN), make_indicator(tlp=Tlp.AMBER)
    _publish("Alpha", "a2b", red, green, amber)
    before = {who: _events(node, who, {"collection": "a2b", "from": "start"}) for who in ("alice", "bob")}
    assert _ids(before["alice"]) == [("object", o["id"]) for o in (red, green, amber)]
    assert _ids(before["bob"]) == [("object", o["id"]) for o in (green, amber)]
    for ob in (red, green, amber):
        _delete(node, "alice", "a2b", ob["id"])
    after = {
        who: _ids(_events(node, who, {"collection": "a2b"}, {"Last-Event-ID": before[who][-1].id}))
        for who in ("alice", "bob")
    }
    assert after["alice"] == [("removed", o["id"]) for o in (red, green, amber)]
    assert after["bob"] == [("removed", o["id"]) for o in (green, amber)]  # the RED one was never Bravo's to see


@pytest.mark.parametrize(
    "cursor", ["garbage", "", "A" * 60, "x" * 500, "%00", "eyJ9"], ids=["word", "empty", "b64", "long", "nul", "json"]
)
def test_a_garbage_last_event_id_is_400_problem_json(node, cursor):
    _setup()
    response = node.client.get(
        STREAM, params={"collection": "shared", "wait": 0}, headers={**node.bearer("bob"), "Last-Event-ID": cursor}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_another_callers_or_another_collections_cursor_is_400(node):
    _setup()
    with get_engine().begin() as conn:
        accounts.create_collection(conn, "Also shared", "also", readers=["Everyone"], writers=["Everyone"])
    _publish("Alpha", "shared", make_indicator(tlp=Tlp.GREEN))
    [event] = _events(node, "alice", {"collection": "shared", "from": "start"})
    for who, alias in (("bob", "shared"), ("alice", "also")):
        response = node.client.get(
            STREAM, params={"collection": alias, "wait": 0}, headers={**node.bearer(who), "Last-Event-ID": event.id}
        )
        assert response.status_code == 400
    # a paging cursor of another list is not a stream position either
    page = node.client.get("/api/v1/objects", params={"limit": 1}, headers=node.bearer("alice")).json()
    if "next" in page:
        response = node.client.get(
            STREAM,
            params={"collection": "shared", "wait": 0, "last_event_id": page["next"]},
            headers=node.bearer("alice"),
        )
        assert response.status_code == 400


def test_the_stream_needs_credentials(node):
    _setup()
    assert node.client.get(STREAM, params={"collection": "shared", "wait": 0}).status_code == 401


def test_the_stream_is_in_the_openapi_document(node):
    doc = node.client.get("/api/v1/openapi.json").json()
    op = doc["paths"]["/api/v1/stream"]["get"]
    assert "text/event-stream" in op["responses"]["200"]["content"]
    names = {p["name"] for p in op["parameters"]}
    assert {"collection", "from", "last_event_id", "wait", "Last-Event-ID"} <= names
