"""W3, held for all inputs: a write's outcome is the same whether an id exists unreadable to the writer or does
not exist at all, on every write path (TAXII envelope, import, sighting, draft publish), and the writer always
reads back what it wrote.

Each example builds a community, stores what everyone may see alike (base holdings, some readable to the
writer), then runs one write twice from the same state: once as it is, once after other organisations stored
objects under the same ids (SCO values, indicator ids, the writer's own derived ids) where the writer may not
read them. Both runs are rolled back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accord.accounts import service as accounts
from accord.core.errors import AccordError
from accord.correlate.values import normalize
from accord.extract import drafts
from accord.extract.service import extract_document
from accord.federation import repository as federation_repo
from accord.federation.links import inbound_link
from accord.feeds.repository import add_link_org
from accord.models.objects import id_is, stix_object
from accord.sharing.policy import Principal, readable_clause
from accord.sharing.repository import principal_for
from accord.sightings import service as sightings
from accord.stix.ids import deterministic_sco_id
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.stix.timestamps import timestamp_to_micros
from accord.store import queries
from accord.store.derived import id_seed
from accord.store.service import WriteContext, ingest
from accord.taxii.writes import add_objects

VALUES = ["192.0.2.1", "192.0.2.2", "evil.example"]
INDICATOR_IDS = [f"indicator--{uuid.UUID(int=n, version=4)}" for n in (1, 2, 3)]
TIMES = ["2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z", "2026-03-03T00:00:00.000Z"]
TLPS = [None, Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
PATHS = ["taxii", "import", "sighting", "draft", "peer-push"]  # peer-push: a peer's sync account writing over its link


def _sco(value: str, tlp: Tlp | None, note: str | None) -> dict[str, Any]:
    kind = "domain-name" if value[0].isalpha() else "ipv4-addr"
    obj: dict[str, Any] = {"type": kind, "spec_version": "2.1", "value": value}
    obj["id"] = deterministic_sco_id(obj)
    if tlp is not None:
        obj["object_marking_refs"] = [tlp_marking_definition(tlp)["id"]]
    if note is not None:
        obj["x_note"] = note  # another body under the same id
    return obj


def _indicator(oid: str, created: int, modified: int, name: str, tlp: Tlp | None, by: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid,
        "created": TIMES[created],
        "modified": TIMES[max(created, modified)],
        "name": name,
        "pattern": "[ipv4-addr:value = '192.0.2.1']",
        "pattern_type": "stix",
        "valid_from": TIMES[created],
    }
    if tlp is not None:
        obj["object_marking_refs"] = [tlp_marking_definition(tlp)["id"]]
    if by is not None:
        obj["created_by_ref"] = by
    return obj


# An object spec: ("sco", value, tlp, note) or ("ind", id index, created, modified, name, tlp)
scos = st.tuples(st.just("sco"), st.sampled_from(VALUES), st.sampled_from(TLPS), st.sampled_from([None, "x"]))
indicators = st.tuples(
    st.just("ind"),
    st.integers(0, len(INDICATOR_IDS) - 1),
    st.integers(0, 2),
    st.integers(0, 2),
    st.sampled_from(["a", "b"]),
    st.sampled_from(TLPS),
)
specs = st.one_of(scos, indicators)


@dataclass
class Case:
    base: list[tuple[int, str | None, tuple]]  # (holder 1|2, collection alias or None, spec)
    hidden: list[tuple[int, str | None, tuple]]
    path: str
    writes: list[tuple]
    derived_hidden: list[tuple[int, str, Tlp | None]]  # holder, value: an object under the writer's derived id


@st.composite
def cases(draw: st.DrawFn) -> Case:
    holders = st.integers(1, 2)
    base = draw(st.lists(st.tuples(holders, st.sampled_from([None, "mine", "theirs", "all"]), specs), max_size=5))
    # Hidden holdings are unreadable to the writer by construction: in a collection it cannot read, in none, or
    # marked AMBER+STRICT / RED (R2).
    hidden_place = st.sampled_from([None, "theirs"])
    hidden = draw(st.lists(st.tuples(holders, hidden_place, specs), min_size=1, max_size=6))
    red_anywhere = draw(st.lists(st.tuples(holders, st.sampled_from(["all", "mine"]), specs), max_size=3))
    hidden += [(h, c, _strict(spec)) for h, c, spec in red_anywhere]
    path = draw(st.sampled_from(PATHS))
    writes = draw(st.lists(specs, min_size=1, max_size=6))
    derived_hidden = draw(st.lists(st.tuples(holders, st.sampled_from(VALUES), st.sampled_from(TLPS)), max_size=2))
    return Case(base, hidden, path, writes, derived_hidden)


def _strict(spec: tuple) -> tuple:
    tlp = Tlp.RED if spec[2 if spec[0] == "sco" else 5] == Tlp.RED else Tlp.AMBER_STRICT
    return (*spec[:2], tlp, spec[3]) if spec[0] == "sco" else (*spec[:5], tlp)


def _body(spec: tuple, by: str | None) -> dict[str, Any]:
    if spec[0] == "sco":
        return _sco(spec[1], spec[2], spec[3])
    _, n, created, modified, name, tlp = spec
    return _indicator(INDICATOR_IDS[n], created, modified, name, tlp, by)


@dataclass
class Community:
    writer: Any
    holders: dict[int, Any]
    collections: dict[str, int]


def _community(conn: Any) -> Community:
    w = accounts.create_org(conn, f"W {uuid.uuid4().hex[:6]}", actor="test")
    h1 = accounts.create_org(conn, f"H1 {uuid.uuid4().hex[:6]}", actor="test")
    h2 = accounts.create_org(conn, f"H2 {uuid.uuid4().hex[:6]}", actor="test")
    everyone = [w.name, h1.name, h2.name]
    made = {
        "mine": accounts.create_collection(conn, "Mine", f"mine-{w.id}", readers=[w.name], writers=[w.name]),
        "theirs": accounts.create_collection(
            conn, "Theirs", f"theirs-{w.id}", readers=[h1.name, h2.name], writers=[h1.name, h2.name]
        ),
        "all": accounts.create_collection(conn, "All", f"all-{w.id}", readers=everyone, writers=everyone),
    }
    return Community(w, {1: h1, 2: h2}, {k: v.id for k, v in made.items()})


def _link_writer(conn: Any, com: Community) -> None:
    """Make the writer a peer's record: what it writes then arrives over that peer's link (a push to us)."""
    local = accounts.create_org(conn, f"L {uuid.uuid4().hex[:6]}", actor="test")
    link = federation_repo.insert_peer(
        conn,
        {
            "name": f"peer-{com.writer.id}",
            "url": "https://peer.example/taxii2/",
            "local_org_id": local.id,
            "created_us": 0,
            "source_org_id": com.writer.id,
        },
    )
    add_link_org(conn, link, com.writer.id)


def _hold(conn: Any, com: Community, holdings: list[tuple[int, str | None, tuple]]) -> None:
    for holder, where, spec in holdings:
        org = com.holders[holder]
        ctx = WriteContext(writer_org_id=org.id, collection_id=None if where is None else com.collections[where])
        ingest(conn, [_body(spec, org.stix_id)], ctx)


def _derived(conn: Any, com: Community, value: str) -> str:
    row = normalize(None, value)[0]
    return f"indicator--{uuid.uuid5(sightings._NS, f'{id_seed(conn, com.writer.id)}|{row.kind}|{row.value}')}"


def _hold_derived(conn: Any, com: Community, derived: list[tuple[int, str, Tlp | None]]) -> None:
    # Objects under the writer's own derived ids (no other writer can compute them; the store must hold even so)
    for holder, value, tlp in derived:
        org = com.holders[holder]
        body = _indicator(_derived(conn, com, value), 0, 0, "squat", Tlp.RED if tlp is None else tlp, org.stix_id)
        ingest(conn, [body], WriteContext(writer_org_id=org.id, collection_id=com.collections["theirs"]))


REPORT = "Seen on {0} talking to {1} and evil.example."


def _write(conn: Any, com: Community, p: Principal, case: Case) -> tuple[Any, list[dict[str, Any]]]:
    """Run the case's write; return what the writer is told (dates aside) and the objects it wrote."""
    alias = f"all-{com.writer.id}" if case.path != "import" else f"mine-{com.writer.id}"
    if case.path in ("taxii", "peer-push"):
        objects = [_body(spec, com.writer.stix_id) for spec in case.writes]
        status = add_objects(conn, p, alias, objects, inbound_link(conn, p))  # as the TAXII route does
        request_us = timestamp_to_micros(status.pop("request_timestamp"))
        status.pop("id")
        for entry in status.get("successes", []):
            if entry["id"].startswith(("ipv4-addr--", "domain-name--")):
                # an unversioned object's version is its date_added: the writer's own, never an older one
                assert timestamp_to_micros(entry["version"]) >= request_us
                entry["version"] = "(date added)"
        return status, objects
    if case.path == "import":
        objects = [_body(spec, com.writer.stix_id) for spec in case.writes]
        ctx = WriteContext(writer_org_id=p.org_id, collection_id=com.collections["mine"], keep_outcomes=True, reader=p)
        report = ingest(conn, objects, ctx)
        told = [(o.id, o.version, o.status, o.reason) for o in report.outcomes]
        return (told, report.stored, report.duplicates, report.refused, report.reasons), objects
    if case.path == "sighting":
        value = next((s[1] for s in case.writes if s[0] == "sco"), VALUES[0])
        try:
            got = sightings.record_sighting(conn, p, collection=alias, value=value)
        except AccordError as exc:
            return (type(exc).__name__, str(exc)), []
        wrote = queries.get_latest(conn, p, got["id"])
        return (got["sighting_of_ref"], got["indicator_created"]), [wrote] if wrote else []
    text = REPORT.format(*[s[1] for s in case.writes if s[0] == "sco"] + VALUES)
    extraction = extract_document(
        text.encode(), content_type="text/plain", created_by_ref=com.writer.stix_id, id_seed=id_seed(conn, p.org_id)
    )
    draft = drafts.create_draft(conn, p, extraction)
    result = drafts.publish(conn, p, draft["id"], alias)
    result.pop("id")
    objects = extraction.bundle["objects"]
    return result, objects


def _reads_back(conn: Any, p: Principal, told: Any, objects: list[dict[str, Any]], path: str) -> None:
    """Every id the writer was told it stored (or already had) it may read, in a version it wrote."""
    if path in ("taxii", "peer-push"):
        ok = {e["id"] for e in told.get("successes", [])}
    elif path == "import":
        ok = {oid for oid, _, status, _ in told[0] if status != "refused"}
    elif path == "sighting":
        ok = {o["id"] for o in objects}
    else:
        ok = {o["id"] for o in objects} if told["refused"] == 0 else set()
    for oid in ok:
        o = stix_object.c
        readable = conn.execute(select(o.raw).where(id_is(stix_object, oid), readable_clause(p))).scalars()
        bodies = [orjson.loads(raw) for raw in readable]
        written = [obj for obj in objects if obj["id"] == oid]
        assert any(_same(body, obj) for body in bodies for obj in written), f"the writer cannot read back {oid}"


def _daily_counts_agree(conn: Any, com: Community) -> None:
    """The dashboard's counts, kept by these write paths (accord.store.daily), are the readable versions' counts
    for every organisation and role."""
    for org in (com.writer, *com.holders.values()):
        for role in ("admin", "analyst", "reader"):
            p = principal_for(conn, org_id=org.id, role=role)
            assert queries.daily_counts(conn, p, since_us=0) == queries.daily_counts_scan(conn, p, since_us=0)


def _same(stored: dict[str, Any], written: dict[str, Any]) -> bool:
    return stored == {"spec_version": "2.1", **written}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases(), role=st.sampled_from(["analyst", "sync"]))
def test_a_write_tells_nothing_of_what_the_writer_may_not_read(engine, case: Case, role: str) -> None:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            com = _community(conn)
            if case.path == "peer-push":
                _link_writer(conn, com)
            _hold(conn, com, case.base)
            p = principal_for(conn, org_id=com.writer.id, role=role, email="w@example.org")
            before = queries.readable_keys(conn, p, latest_only=False)
            first = conn.begin_nested()
            told_without, _ = _write(conn, com, p, case)
            first.rollback()
            second = conn.begin_nested()
            _hold(conn, com, case.hidden)
            _hold_derived(conn, com, case.derived_hidden)
            assert queries.readable_keys(conn, p, latest_only=False) == before  # hidden, as built
            told_with, objects = _write(conn, com, p, case)
            assert orjson.dumps(told_with, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
                told_without, option=orjson.OPT_SORT_KEYS
            )
            _reads_back(conn, p, told_with, objects, case.path)
            _daily_counts_agree(conn, com)
            second.rollback()
        finally:
            outer.rollback()
