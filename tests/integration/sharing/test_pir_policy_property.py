"""The one policy, held to joint intelligence requirements: for random communities of requirements (owners,
participants, TLPs, active or not) and random new intelligence (several organisations, collections read by
random organisations, TLPs, naming a watched keyword or not), every PIR read path -- the list, a requirement by
id, its match count, its matches, the notification feeds -- returns exactly what the policy's predicate face
(can_read) allows, for every organisation and role; and every new version naming an active requirement's
keyword is recorded as its match right after the ingest. Participants may be given as a sharing group whose
membership then changes; intelligence stored before a requirement is matched by its backfill exactly when a
participant may read it; and a webhook delivery carries a notification only while its user may read it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from accord.accounts import service as accounts
from accord.core.errors import NotFound
from accord.joint import notify, pir
from accord.joint.objects import CASE_TLPS
from accord.models.jobs import job
from accord.models.joint import joint_notification, joint_pir, joint_pir_match
from accord.sharing.policy import Principal, Role
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store.service import WriteContext, ingest
from tests.integration.sharing.test_joint_policy_property import _predicate_readable, check_webhook_payloads

N_ORGS = 4
TS = "2026-11-01T10:00:00.000Z"
KEYWORDS = ("harbour", "lighthouse")


@dataclass
class PirSpec:
    owner: int
    participants: frozenset[int]
    tlp: Tlp
    keyword: str
    active: bool
    as_group: bool  # the other participants given as one sharing group


@dataclass
class IntelSpec:
    writer: int
    readers: frozenset[int]
    tlp: Tlp
    keyword: str | None


pir_specs = st.builds(
    PirSpec,
    owner=st.integers(0, N_ORGS - 1),
    participants=st.frozensets(st.integers(0, N_ORGS - 1), max_size=N_ORGS),
    tlp=st.sampled_from(CASE_TLPS),
    keyword=st.sampled_from(KEYWORDS),
    active=st.booleans(),
    as_group=st.booleans(),
)
intel_specs = st.builds(
    IntelSpec,
    writer=st.integers(0, N_ORGS - 1),
    readers=st.frozensets(st.integers(0, N_ORGS - 1), max_size=N_ORGS),
    tlp=st.sampled_from([Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED]),
    keyword=st.one_of(st.none(), st.sampled_from(KEYWORDS)),
)


def _email(o: int) -> str:
    return f"analyst{o}@org{o}.example"


def _store_intel(conn, orgs, names, i: int, spec: IntelSpec) -> int:
    readers = sorted({spec.writer, *spec.readers})
    coll = accounts.create_collection(
        conn, f"c{i}", f"c-{i}", readers=[names[o] for o in readers], writers=[names[spec.writer]]
    )
    obj = {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{uuid.uuid4()}",
        "created_by_ref": orgs[spec.writer].stix_id,
        "created": TS,
        "modified": TS,
        "name": f"about the {spec.keyword}" if spec.keyword else "about nothing",
        "published": TS,
        "object_refs": [f"note--{uuid.uuid4()}"],
        "object_marking_refs": [tlp_marking_definition(spec.tlp)["id"]],
    }
    report = ingest(conn, [obj], WriteContext(writer_org_id=orgs[spec.writer].id, collection_id=coll.id))
    assert report.stored == 1
    (seq,) = report.stored_seqs
    return int(seq)


def _build(
    conn, pirs: list[PirSpec], earlier: list[IntelSpec], intel: list[IntelSpec], leaver: int | None
) -> dict[str, set[int]]:
    """Store the community; the participating organisation ids of each requirement, by its id."""
    names = [f"Org {o}" for o in range(N_ORGS)]
    orgs = [accounts.create_org(conn, n, actor="test") for n in names]
    for n in names:
        accounts.create_user(conn, _email(names.index(n)), n, "analyst", None)

    def analyst(o: int) -> Principal:
        return principal_for(conn, org_id=orgs[o].id, role="analyst", email=_email(o))

    # Intelligence stored before the requirements: matched by their backfill (background jobs, run below).
    before = [(_store_intel(conn, orgs, names, 100 + i, spec), spec) for i, spec in enumerate(earlier)]
    members: dict[str, set[int]] = {}
    groups: dict[str, tuple[str, list[int]]] = {}  # requirement -> its group and the group's members
    for k, spec in enumerate(pirs):
        others = sorted(spec.participants - {spec.owner})
        named = [names[o] for o in others]
        if spec.as_group and others:
            group = f"Group {k}"
            accounts.create_group(conn, group, named)
            named = [group]
        made = pir.create_pir(
            conn,
            analyst(spec.owner),
            title="r",
            participants=named,
            tlp=spec.tlp.name.lower(),
            criteria={"keywords": [spec.keyword]},
        )
        if spec.as_group and others:
            groups[made["id"]] = (f"Group {k}", others)
        if not spec.active:
            pir.update_pir(conn, analyst(spec.owner), made["id"], status="inactive")
        members[made["id"]] = {orgs[o].id for o in {spec.owner, *others}}
    _run_backfills(conn)
    for rid, row in {r.stix_id: r for r in conn.execute(select(joint_pir))}.items():
        readers = [principal_for(conn, org_id=o, role="reader") for o in members[rid]]
        visible = set().union(*(_predicate_readable(conn, r) for r in readers))
        m = joint_pir_match.c
        matched = set(conn.execute(select(m.seq).where(m.pir_id == row.id)).scalars())
        watched = row.status == "active"
        expected = {seq for seq, spec in before if watched and spec.keyword and f'"{spec.keyword}"' in row.criteria}
        assert matched == expected & visible  # what a participant may read, and only that
    if leaver is not None:  # an organisation leaves every group it is in: it stops taking part at once
        for rid, (group, in_group) in groups.items():
            if leaver in in_group:  # never the owner (a group holds the others)
                accounts.change_members(conn, group, [names[leaver]], add=False)
                members[rid].discard(orgs[leaver].id)
    for i, spec in enumerate(intel):
        seq = _store_intel(conn, orgs, names, i, spec)
        # Matching ran in the ingest: the version is a match of exactly the active requirements watching it.
        watching = {r.id for r in conn.execute(select(joint_pir).where(joint_pir.c.status == "active"))}
        keyword_pirs = {
            r.id for r in conn.execute(select(joint_pir)) if spec.keyword and f'"{spec.keyword}"' in r.criteria
        }
        matched = {m.pir_id for m in conn.execute(select(joint_pir_match).where(joint_pir_match.c.seq == seq))}
        assert matched == watching & keyword_pirs
    return members


def _run_backfills(conn) -> None:
    while True:
        queued = conn.execute(
            select(job.c.id, job.c.payload).where(job.c.kind == pir.BACKFILL_JOB, job.c.status == "queued")
        ).all()
        if not queued:
            return
        for row in queued:
            conn.execute(update(job).where(job.c.id == row.id).values(status="done"))
            pir.run_backfill(conn, bytes(row.payload))


def _check(conn, p: Principal, members: dict[str, set[int]]) -> None:
    allowed = _predicate_readable(conn, p)
    rows = {r.stix_id: r for r in conn.execute(select(joint_pir))}
    readable = {rid for rid, r in rows.items() if r.seq in allowed}
    # The community's rule, spelled out: participants (and admins) read a requirement, nobody else.
    assert readable == {rid for rid in rows if p.is_admin or p.org_id in members[rid]}
    assert sorted(x["id"] for x in pir.list_pirs(conn, p, before_id=None, limit=10_000)) == sorted(readable)
    for rid, row in rows.items():
        if rid not in readable:
            with pytest.raises(NotFound):
                pir.get_pir(conn, p, rid)
            with pytest.raises(NotFound):
                pir.matches(conn, p, rid, before_id=None, limit=10)
            continue
        m = joint_pir_match.c
        expected = [r.seq for r in conn.execute(select(m.seq).where(m.pir_id == row.id).order_by(m.id.desc()))]
        expected = [s for s in expected if s in allowed]
        got = pir.matches(conn, p, rid, before_id=None, limit=10_000)
        assert len(got) == len(expected)
        assert pir.get_pir(conn, p, rid)["matches"] == len(expected)
    n = joint_notification.c
    mine = conn.execute(select(n.public_id, n.seq).where(n.user_id == p.user_id).order_by(n.id.desc()))
    assert [x["id"] for x in notify.feed(conn, p, unread_only=False, before_id=None, limit=10_000)] == [
        r.public_id for r in mine if r.seq in allowed
    ]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pirs=st.lists(pir_specs, min_size=1, max_size=3),
    earlier=st.lists(intel_specs, max_size=3),
    intel=st.lists(intel_specs, min_size=1, max_size=4),
    leaver=st.one_of(st.none(), st.integers(0, N_ORGS - 1)),
)
def test_pir_read_paths_return_exactly_what_the_policy_allows(
    engine, pirs: list[PirSpec], earlier, intel, leaver
) -> None:
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            members = _build(conn, pirs, earlier, intel, leaver)
            check_webhook_payloads(conn)
            org_ids = sorted({r.id for r in accounts.list_orgs(conn) if r.name.startswith("Org ")})
            for o, org_id in enumerate(org_ids):
                for role in (Role.ANALYST, Role.READER, Role.ADMIN):
                    user = accounts.get_user_by_email(conn, _email(o))
                    p = principal_for(conn, org_id=org_id, role=role.value, email=_email(o), user_id=user.id)
                    _check(conn, p, members)
        finally:
            trans.rollback()
