"""The one policy, held to joint work: for random communities of cases and requests for information (owners,
participants added and removed, TLPs, tasks, task logs, comments, links and answers by several organisations),
every joint read path -- case list, case by id, tasks of a case, the task queue, task by id, timeline, linked
objects, requests and their answers (asked here, or received as STIX content with planted notes), notification
feeds -- returns exactly what the policy's predicate face
(can_read) allows, for every organisation and role; what it does not allow is NotFound (R7). New content sharing
a value with a case's linked object notifies exactly the participating organisations that may read both, and a
webhook delivery carries a notification only while its user may read it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Connection

from accord.accounts import service as accounts
from accord.core.errors import NotFound
from accord.joint import correlation, notify, objects, rfi, service, watch, webhooks, work
from accord.joint.objects import CASE_TLPS
from accord.models.accounts import app_user
from accord.models.joint import (
    joint_case,
    joint_event,
    joint_link,
    joint_notification,
    joint_rfi,
    joint_rfi_answer,
    joint_task,
)
from accord.models.objects import collection_object, stix_object
from accord.models.webhooks import webhook, webhook_delivery
from accord.sharing.policy import ObjectFacts, Principal, Role, can_read
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store import queries
from accord.store.service import WriteContext, ingest

N_ORGS = 4
SHARED = "45.137.21.9"
TS = "2026-11-01T10:00:00.000Z"
TS_ANSWER = "2026-11-02T10:00:00.000Z"


@dataclass
class CaseSpec:
    owner: int
    participants: frozenset[int]
    removed: frozenset[int]
    tlp: Tlp
    tasks: list[tuple[int, int | None]]  # creator org, assignee org
    updates: list[tuple[int, int]]  # (task index, org that changes its status)
    comments: list[int]
    links: list[int]  # organisations that link their own indicator


@st.composite
def case_specs(draw: st.DrawFn) -> CaseSpec:
    owner = draw(st.integers(0, N_ORGS - 1))
    others = [o for o in range(N_ORGS) if o != owner]
    participants = frozenset(draw(st.lists(st.sampled_from(others), unique=True, max_size=len(others))))
    members = sorted({owner, *participants})
    removed = frozenset(draw(st.lists(st.sampled_from(others), unique=True, max_size=2))) & participants
    tasks = draw(
        st.lists(st.tuples(st.sampled_from(members), st.one_of(st.none(), st.sampled_from(members))), max_size=3)
    )
    updates = (
        draw(st.lists(st.tuples(st.integers(0, len(tasks) - 1), st.sampled_from(members)), max_size=2)) if tasks else []
    )
    return CaseSpec(
        owner=owner,
        participants=participants,
        removed=removed,
        tlp=draw(st.sampled_from(CASE_TLPS)),
        tasks=tasks,
        updates=updates,
        comments=draw(st.lists(st.sampled_from(members), max_size=2)),
        links=draw(st.lists(st.sampled_from(members), unique=True, max_size=2)),
    )


def _host(o: int) -> str:
    return f"host.org{o}-corp.net"


def _email(o: int) -> str:
    return f"analyst{o}@org{o}.example"


def _build(conn, specs: list[CaseSpec]) -> dict[str, set[int]]:
    """Store the community; the final participants of each case, by case id."""
    names = [f"Org {o}" for o in range(N_ORGS)]
    orgs = [accounts.create_org(conn, n, actor="test") for n in names]
    for o, n in enumerate(names):
        accounts.create_user(conn, _email(o), n, "analyst", None)

    def analyst(o: int) -> Principal:  # built per action, as each request does: grants change as cases are made
        return principal_for(conn, org_id=orgs[o].id, role="analyst", email=_email(o))

    # Each organisation holds one indicator of its own, in a collection of its own.
    indicators = []
    for o, r in enumerate(orgs):
        coll = accounts.create_collection(conn, f"own {o}", f"own-{o}", readers=[names[o]], writers=[names[o]])
        ind = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created_by_ref": r.stix_id,
            "created": TS,
            "modified": TS,
            # Each its own address and host name, and one address they all share (not on a warninglist): cases
            # correlate through it; echoes name the host's parent domain (a related value).
            "pattern": f"[ipv4-addr:value = '198.51.100.{o}'] OR [ipv4-addr:value = '{SHARED}']"
            f" OR [domain-name:value = '{_host(o)}']",
            "pattern_type": "stix",
            "valid_from": TS,
            "object_marking_refs": [tlp_marking_definition(Tlp.AMBER)["id"]],
        }
        assert ingest(conn, [ind], WriteContext(writer_org_id=r.id, collection_id=coll.id)).stored == 1
        indicators.append(ind["id"])
    final: dict[str, set[int]] = {}
    for spec in specs:
        who = analyst(spec.owner)
        case = service.create_case(
            conn, who, title="c", tlp=spec.tlp.name.lower(), participants=[names[o] for o in sorted(spec.participants)]
        )
        cid = case["id"]
        task_ids = []
        for creator, assignee in spec.tasks:
            t = work.add_task(
                conn, analyst(creator), cid, title="t", assignee=None if assignee is None else _email(assignee)
            )
            task_ids.append(t["id"])
        for index, o in spec.updates:
            work.update_task(conn, analyst(o), task_ids[index], status="doing")
        for o in spec.comments:
            service.comment(conn, analyst(o), cid, "note")
        for o in spec.links:
            service.link_objects(conn, analyst(o), cid, [indicators[o]])
        if spec.removed:
            service.change_participants(conn, who, cid, add=[], remove=[names[o] for o in sorted(spec.removed)])
        final[cid] = {orgs[o].id for o in {spec.owner, *spec.participants} - spec.removed}
        if spec.participants:  # the owner also asks its partners, and each answers, sharing its own indicator
            req = rfi.ask(conn, analyst(spec.owner), title="q", to=[names[o] for o in sorted(spec.participants)])
            for o in sorted(spec.participants):
                rfi.answer(conn, analyst(o), req["id"], "a", [indicators[o]])
            final[req["id"]] = {orgs[o].id for o in {spec.owner, *spec.participants}}
            final[_received_rfi(conn, orgs, spec)] = {orgs[o].id for o in {spec.owner, *spec.participants}}
    return final


def _received_rfi(conn, orgs: list, spec: CaseSpec) -> str:
    """The owner's request to its partners and their answers arriving as STIX content (what a peer brings,
    projected by accord.joint.projection) into a collection the parties read and write; every other organisation
    plants a note on it in a collection of its own (plain content, never an answer). The request's id."""
    members = sorted({spec.owner, *spec.participants})
    names = [orgs[o].name for o in members]
    rid = f"x-accord-rfi--{uuid.uuid4()}"
    coll = accounts.create_collection(conn, "received", "in-" + rid[-36:], readers=names, writers=names)
    fields = {"name": "q", "question": "?", "addressee_refs": [orgs[o].stix_id for o in sorted(spec.participants)],
              "status": "open", "tlp": int(spec.tlp)}  # fmt: skip
    body = objects.rfi_object(stix_id=rid, owner_ref=orgs[spec.owner].stix_id, created=TS, modified=TS, fields=fields)
    assert ingest(conn, [body], WriteContext(writer_org_id=orgs[spec.owner].id, collection_id=coll.id)).stored == 1
    for o in range(N_ORGS):
        if o == spec.owner:
            continue
        note = objects.note_object(owner_ref=orgs[o].stix_id, at=TS_ANSWER, author=_email(o), content="a",
                                   refs=[rid], tlp=spec.tlp)  # fmt: skip
        into = coll.id if o in spec.participants else accounts.get_collection_by_alias_or_raise(conn, f"own-{o}").id
        assert ingest(conn, [note], WriteContext(writer_org_id=orgs[o].id, collection_id=into)).stored == 1
    return rid


def _predicate_readable(conn, p: Principal) -> set[int]:
    """The seqs of the stored versions can_read allows (the predicate face), from the stored facts."""
    members: dict[int, list[tuple[int, int]]] = {}
    for m in conn.execute(select(collection_object)):
        members.setdefault(m.object_seq, []).append((m.collection_id, m.added_by_org_id))
    o = stix_object.c
    readable = set()
    for row in conn.execute(select(o.seq, o.id, o.type, o.owner_org_id, o.tlp, o.peer_id)):
        facts = ObjectFacts(
            stix_id=row.id,
            type=row.type,
            owner_org_id=row.owner_org_id,
            tlp=None if row.tlp is None else Tlp(row.tlp),
            peer_id=row.peer_id,
            memberships=tuple(members.get(row.seq, ())),
        )
        if can_read(p, facts):
            readable.add(row.seq)
    return readable


def _check_rfis(conn, p: Principal, final: dict[str, set[int]], allowed: set[int]) -> None:
    requests = {r.stix_id: r for r in conn.execute(select(joint_rfi))}
    readable = {rid for rid, r in requests.items() if r.seq in allowed}
    assert readable == {rid for rid in requests if p.is_admin or p.org_id in final[rid]}
    assert sorted(r["id"] for r in rfi.list_rfis(conn, p, before_id=None, limit=10_000)) == sorted(readable)
    for rid, row in requests.items():
        if rid not in readable:
            with pytest.raises(NotFound):
                rfi.get_rfi(conn, p, rid)
            continue
        answers = conn.execute(select(joint_rfi_answer).where(joint_rfi_answer.c.rfi_id == row.id)).all()
        assert {a.org_id for a in answers} == final[rid] - {row.owner_org_id}  # the addressed answer, nobody else
        got = rfi.get_rfi(conn, p, rid)["answers"]
        assert len(got) == sum(1 for a in answers if a.seq in allowed)
        for answer in got:  # the objects an answer shares are readable to whoever reads the request
            for oid in answer["objects"]:
                assert queries.get_latest(conn, p, oid) is not None


@dataclass
class EchoSpec:
    """Another organisation's new indicator of the address an organisation's indicator carries (or, `related`,
    of the parent domain of its host name)."""

    writer: int
    value_of: int
    readers: frozenset[int]
    tlp: Tlp
    related: bool = False


echo_specs = st.builds(
    EchoSpec,
    writer=st.integers(0, N_ORGS - 1),
    value_of=st.integers(0, N_ORGS - 1),
    readers=st.frozensets(st.integers(0, N_ORGS - 1), max_size=N_ORGS),
    tlp=st.sampled_from([Tlp.GREEN, Tlp.AMBER, Tlp.RED]),
    related=st.booleans(),
)


assert watch.watch_stored  # imported for its store hook: new content correlating with cases notifies


def _echo(conn, echoes: list[EchoSpec], final: dict[str, set[int]]) -> None:
    """Store the echoes; each case.correlation entry is exactly one the rule calls for: for a new version carrying
    the value of an object linked in a case (or a related one: a parent domain), each participating organisation
    other than its writer that may read both the new version and the linked object (one user per organisation
    here)."""
    names = [f"Org {o}" for o in range(N_ORGS)]
    orgs = [accounts.get_org_by_name_or_raise(conn, n) for n in names]
    expected = set()
    link, o = joint_link.c, stix_object.c
    for i, spec in enumerate(echoes):
        readers = [names[x] for x in sorted({spec.writer, *spec.readers})]
        coll = accounts.create_collection(conn, f"echo {i}", f"echo-{i}", readers=readers, writers=[names[spec.writer]])
        ind = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created_by_ref": orgs[spec.writer].stix_id,
            "created": TS,
            "modified": TS,
            "pattern": f"[domain-name:value = '{_host(spec.value_of).partition('.')[2]}']"
            if spec.related
            else f"[ipv4-addr:value = '198.51.100.{spec.value_of}']",
            "pattern_type": "stix",
            "valid_from": TS,
            "object_marking_refs": [tlp_marking_definition(spec.tlp)["id"]],
        }
        (seq,) = ingest(
            conn, [ind], WriteContext(writer_org_id=orgs[spec.writer].id, collection_id=coll.id)
        ).stored_seqs
        # The objects carrying that value are the value_of organisation's own indicator and earlier echoes of it;
        # only the former is ever linked.
        linked = conn.execute(
            select(joint_case.c.stix_id, o.seq)
            .select_from(joint_link)
            .join(joint_case, joint_case.c.id == link.case_id)
            .join(stix_object, (o.id == link.object_id) & o.is_latest)
            .where(o.owner_org_id == orgs[spec.value_of].id, o.type == "indicator", o.id != ind["id"])
        ).all()
        for cid, linked_seq in linked:
            for org_id in final[cid]:
                if org_id == orgs[spec.writer].id:
                    continue
                can = _predicate_readable(conn, principal_for(conn, org_id=org_id, role="reader"))
                if seq in can and linked_seq in can:
                    expected.add((org_id, cid, seq))
    n, u = joint_notification.c, app_user.c
    got = conn.execute(
        select(u.org_id, n.subject, n.seq).join(app_user, u.id == n.user_id).where(n.kind == "case.correlation")
    ).all()
    assert sorted(map(tuple, got)) == sorted(expected)


def check_webhook_payloads(conn: Connection) -> None:
    """Give every organisation with users a webhook and announce every notification entry to it (as notify does
    for new ones): a delivery goes to the entry's user's organisation, and its payload exists exactly when that
    user may read the entry's version, carrying that entry."""
    u = app_user.c
    for org_id in set(conn.execute(select(u.org_id)).scalars()):
        webhooks.add_webhook(conn, accounts.get_org(conn, org_id).name, "https://hooks.example/a", secret="s" * 16)
    n, d = joint_notification.c, webhook_delivery.c
    for e in conn.execute(select(n.public_id, n.user_id)).all():
        webhooks.enqueue(conn, [e.user_id], [e.public_id])
    deliveries = conn.execute(
        select(d.id, n.public_id, n.seq, n.user_id, u.org_id, u.email, webhook.c.org_id.label("hook_org"))
        .join(joint_notification, n.id == d.notification_id)
        .join(app_user, u.id == n.user_id)
        .join(webhook, webhook.c.id == d.webhook_id)
    ).all()
    assert len(deliveries) == len(conn.execute(select(n.id)).all())  # one per entry (one webhook per org)
    for row in deliveries:
        assert row.hook_org == row.org_id
        user = principal_for(conn, org_id=row.org_id, role="analyst", email=row.email, user_id=row.user_id)
        got = webhooks.payload(conn, row.id)
        assert (got is not None) == (row.seq in _predicate_readable(conn, user))
        if got is not None:
            sent = orjson.loads(got[1])
            assert (sent["notification"]["id"], sent["notification"]["user"]) == (row.public_id, row.email)


def _check_notifications(conn, p: Principal, allowed: set[int]) -> None:
    n = joint_notification.c
    mine = conn.execute(select(n.public_id, n.seq).where(n.user_id == p.user_id).order_by(n.id.desc()))
    expected = [r.public_id for r in mine if r.seq in allowed]
    assert [x["id"] for x in notify.feed(conn, p, unread_only=False, before_id=None, limit=10_000)] == expected
    assert notify.unread_count(conn, p) == len(expected)


def _check(conn, p: Principal, final: dict[str, set[int]]) -> None:
    allowed = _predicate_readable(conn, p)
    _check_rfis(conn, p, final, allowed)
    _check_notifications(conn, p, allowed)
    cases = {r.stix_id: r for r in conn.execute(select(joint_case))}
    readable_cases = {cid for cid, r in cases.items() if r.seq in allowed}
    # The community's rule, spelled out: participants (and admins) read a case, nobody else.
    assert readable_cases == {cid for cid in cases if p.is_admin or p.org_id in final[cid]}
    listed = [c["id"] for c in service.list_cases(conn, p, before_id=None, limit=10_000)]
    assert sorted(listed) == sorted(readable_cases)
    tasks = list(
        conn.execute(select(joint_task, joint_case.c.stix_id.label("case")).join(joint_case).order_by(joint_task.c.id))
    )
    mine = {t.stix_id for t in tasks if t.assignee == p.email and t.seq in allowed and t.case in readable_cases}
    assert {t["id"] for t in work.my_tasks(conn, p, after_id=None, limit=10_000)} == mine
    for cid, row in cases.items():
        case_tasks = [t for t in tasks if t.case == cid]
        if cid not in readable_cases:
            for call in (
                lambda i=cid: service.case_view(conn, p, i),
                lambda i=cid: service.timeline(conn, p, i, after_id=None, limit=10),
                lambda i=cid: service.linked_objects(conn, p, i, after_id=None, limit=10),
                lambda i=cid: work.list_case_tasks(conn, p, i, after_id=None, limit=10),
            ):
                with pytest.raises(NotFound):
                    call()
            for t in case_tasks:
                if t.seq not in allowed:
                    with pytest.raises(NotFound):
                        work.get_task(conn, p, t.stix_id)
            continue
        view = service.case_view(conn, p, cid)
        expected_tasks = [t.stix_id for t in case_tasks if t.seq in allowed]
        got_tasks = work.list_case_tasks(conn, p, cid, after_id=None, limit=10_000)
        assert [t["id"] for t in got_tasks] == expected_tasks
        assert sum(view["tasks"].values()) == len(expected_tasks)
        events = conn.execute(
            select(joint_event.c.seq).where(joint_event.c.case_id == row.id).order_by(joint_event.c.id)
        )
        expected_events = [e.seq for e in events if e.seq in allowed]
        assert len(service.timeline(conn, p, cid, after_id=None, limit=10_000)) == len(expected_events)
        links = list(conn.execute(select(joint_link).where(joint_link.c.case_id == row.id).order_by(joint_link.c.id)))
        expected_links = [
            link.object_id
            for link in links
            if link.seq in allowed and queries.get_latest(conn, p, link.object_id) is not None
        ]
        listed_links = service.linked_objects(conn, p, cid, after_id=None, limit=10_000)
        assert [orjson.loads(raw)["id"] for _, raw in listed_links] == expected_links
        assert view["links"] == sum(1 for link in links if link.seq in allowed)
        for t in case_tasks:
            assert (t.seq in allowed) == _can_get_task(conn, p, t.stix_id)
        summary = correlation.case_correlations(conn, p, cid)["values"]
        for value in summary:
            assert {x["id"] for x in value["cases"]} <= readable_cases - {cid}
        # The shared address shows exactly when the caller reads a linked indicator (through a readable link)
        # and, counted per owner, exactly the other indicators holding it that it reads (echoes hold only an
        # organisation's documentation address, which warninglists drop).
        indicators = {r.id: r for r in conn.execute(select(stix_object).where(stix_object.c.type == "indicator"))}
        linked_ids = {link.object_id for link in links}
        holds = any(link.seq in allowed and indicators[link.object_id].seq in allowed for link in links)
        others: dict[str, int] = {}
        for oid, ind in indicators.items():
            if oid not in linked_ids and ind.seq in allowed and SHARED in orjson.loads(ind.raw)["pattern"]:
                owner = accounts.get_org(conn, ind.owner_org_id).name
                others[owner] = others.get(owner, 0) + 1
        shown = {(s["org"], s["objects"]) for v in summary if v["value"] == SHARED for s in v["seen_by"]}
        assert shown == (set(others.items()) if holds else set())
        # A host name shows (as a parent-domain match) exactly when the caller reads its linked indicator and
        # the other indicators naming its parent domain, counted per owner, are exactly those it reads.
        for o in range(N_ORGS):
            host, parent = _host(o), f"'{_host(o).partition('.')[2]}'"
            holds_host = any(
                link.seq in allowed
                and indicators[link.object_id].seq in allowed
                and host in orjson.loads(indicators[link.object_id].raw)["pattern"]
                for link in links
            )
            naming: dict[str, int] = {}
            for oid, ind in indicators.items():
                if oid not in linked_ids and ind.seq in allowed and parent in orjson.loads(ind.raw)["pattern"]:
                    owner = accounts.get_org(conn, ind.owner_org_id).name
                    naming[owner] = naming.get(owner, 0) + 1
            got = {(s["org"], s["objects"]) for v in summary if v["value"] == host for s in v["seen_by"]}
            assert got == (set(naming.items()) if holds_host else set())
        for v in summary:
            if v["match"] == "exact":
                assert v["value"] == SHARED
            else:
                assert (v["match"], v["value"].startswith("host.org")) == ("parent-domain", True)


def _can_get_task(conn, p: Principal, task_id: str) -> bool:
    try:
        work.get_task(conn, p, task_id)
    except NotFound:
        return False
    return True


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(case_specs(), min_size=1, max_size=3), echoes=st.lists(echo_specs, max_size=3))
@example(  # always one echo a partner may read next to the linked object: the rule is exercised every run
    specs=[
        CaseSpec(0, frozenset({1, 2}), frozenset(), Tlp.AMBER, [], [], [], [0]),
        CaseSpec(3, frozenset({1}), frozenset({1}), Tlp.GREEN, [], [], [], [3]),
    ],
    echoes=[
        EchoSpec(2, 0, frozenset({1}), Tlp.GREEN),
        EchoSpec(0, 3, frozenset({1, 3}), Tlp.AMBER),
        EchoSpec(1, 0, frozenset({0, 2}), Tlp.GREEN, related=True),
    ],
)
def test_joint_read_paths_return_exactly_what_the_policy_allows(
    engine, specs: list[CaseSpec], echoes: list[EchoSpec]
) -> None:
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            final = _build(conn, specs)
            _echo(conn, echoes, final)
            check_webhook_payloads(conn)
            org_ids = sorted({r.id for r in accounts.list_orgs(conn) if r.name.startswith("Org ")})
            for o, org_id in enumerate(org_ids):
                for role in (Role.ANALYST, Role.READER, Role.ADMIN):
                    user = accounts.get_user_by_email(conn, _email(o))
                    p = principal_for(conn, org_id=org_id, role=role.value, email=_email(o), user_id=user.id)
                    _check(conn, p, final)
        finally:
            trans.rollback()
