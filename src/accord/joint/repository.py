"""All SQL of joint work. Every read joins the object version a row comes from and filters it through the one
sharing policy (readable_clause): a row whose version the caller may not read does not exist for it (R7)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, func, insert, or_, select, text, update

from accord.core.clock import now_us
from accord.core.sql import IndexedJoin, OrderedJoin
from accord.correlate.matching import correlatable
from accord.correlate.values import values_of
from accord.models.accounts import app_user, org, sharing_group, sharing_group_member
from accord.models.correlate import RANGED_SEQ_WHERE, value_index
from accord.models.joint import (
    joint_case,
    joint_case_value,
    joint_event,
    joint_link,
    joint_rfi,
    joint_rfi_answer,
    joint_task,
)
from accord.models.objects import collection_object, id_in, stix_object
from accord.sharing.policy import Principal, readable_clause, visible_versions_clause
from accord.stix.ids import id_key


def readable_seq_clause(principal: Principal, seq_column: Any) -> Any:
    """True where the version `seq_column` names is readable by the principal (one probe per row)."""
    version = stix_object.alias("v")
    return select(version.c.seq).where(version.c.seq == seq_column, readable_clause(principal, version)).exists()


def seq_runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted seqs as (first, last): an ingest's seqs are a few ranges."""
    runs: list[tuple[int, int]] = []
    for s in sorted(seqs):
        if runs and s == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], s)
        else:
            runs.append((s, s))
    return runs


def insert_case(conn: Connection, row: dict[str, Any]) -> int:
    """A new case row; its id."""
    return int(conn.execute(insert(joint_case).values(**row)).inserted_primary_key[0])  # type: ignore[index]


def update_case(conn: Connection, case_id: int, **values: Any) -> None:
    """Change a case row (after a new version of the case)."""
    conn.execute(update(joint_case).where(joint_case.c.id == case_id).values(**values))


def readable_case(conn: Connection, principal: Principal, stix_id: str) -> Row[Any] | None:
    """The case row, if the caller may read the case's newest version; None otherwise (missing or not)."""
    c = joint_case.c
    stmt = select(joint_case).where(c.stix_id == stix_id, readable_seq_clause(principal, c.seq))
    return conn.execute(stmt).first()


def list_cases(
    conn: Connection, principal: Principal, *, before_id: int | None, limit: int, status: str | None
) -> list[Row[Any]]:
    """Readable cases, newest first; keyset on id."""
    c = joint_case.c
    stmt = select(joint_case, org.c.name.label("owner")).join(org, org.c.id == c.owner_org_id)
    stmt = stmt.where(readable_seq_clause(principal, c.seq))
    if status is not None:
        stmt = stmt.where(c.status == status)
    if before_id is not None:
        stmt = stmt.where(c.id < before_id)
    return list(conn.execute(stmt.order_by(c.id.desc()).limit(limit)))


def raw_version(conn: Connection, seq: int) -> bytes:
    """The raw JSON of one stored version (the caller checked it may read it)."""
    return bytes(conn.execute(select(stix_object.c.raw).where(stix_object.c.seq == seq)).scalar_one())


def org_ids_by_identity(conn: Connection, identities: Iterable[str]) -> dict[str, int]:
    """Organisation ids by their identity object id."""
    wanted = list(identities)
    if not wanted:
        return {}
    return {r.stix_id: r.id for r in conn.execute(select(org.c.stix_id, org.c.id).where(org.c.stix_id.in_(wanted)))}


def org_names(conn: Connection, org_ids: Iterable[int]) -> dict[int, str]:
    """Organisation names by id."""
    wanted = sorted(set(org_ids))
    if not wanted:
        return {}
    return {r.id: r.name for r in conn.execute(select(org.c.id, org.c.name).where(org.c.id.in_(wanted)))}


def own_latest_versions(conn: Connection, org_id: int, object_ids: Sequence[str]) -> list[bytes]:
    """The newest version of the organisation's own (local) copy of each of these objects, raw."""
    o = stix_object.c
    found: list[bytes] = []
    for start in range(0, len(object_ids), 500):
        stmt = select(o.raw).where(
            id_in(stix_object, object_ids[start : start + 500]),
            o.owner_org_id == org_id,
            o.peer_id.is_(None),
            o.is_latest.is_(True),
        )
        found.extend(bytes(r) for r in conn.execute(stmt).scalars())
    return found


def insert_task(conn: Connection, row: dict[str, Any]) -> int:
    """A new task row; its id."""
    return int(conn.execute(insert(joint_task).values(**row)).inserted_primary_key[0])  # type: ignore[index]


def update_task(conn: Connection, task_id: int, **values: Any) -> None:
    """Change a task row (after a new version of the task, or a task log entry that changes it)."""
    conn.execute(update(joint_task).where(joint_task.c.id == task_id).values(**values))


def readable_task(conn: Connection, principal: Principal, stix_id: str) -> Row[Any] | None:
    """The task row with its case's stix id, if the caller may read the task's newest version."""
    t = joint_task.c
    stmt = (
        select(joint_task, joint_case.c.stix_id.label("case_stix_id"))
        .join(joint_case, joint_case.c.id == t.case_id)
        .where(t.stix_id == stix_id, readable_seq_clause(principal, t.seq))
    )
    return conn.execute(stmt).first()


def list_tasks(
    conn: Connection,
    principal: Principal,
    *,
    case_id: int | None = None,
    assignee: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Row[Any]]:
    """Readable tasks (of one case, or assigned to someone across cases), oldest first; keyset on id."""
    t = joint_task.c
    stmt = (
        select(joint_task, joint_case.c.stix_id.label("case_stix_id"), joint_case.c.title.label("case_title"))
        .join(joint_case, joint_case.c.id == t.case_id)
        .where(readable_seq_clause(principal, t.seq), readable_seq_clause(principal, joint_case.c.seq))
    )
    if case_id is not None:
        stmt = stmt.where(t.case_id == case_id)
    if assignee is not None:
        stmt = stmt.where(t.assignee == assignee)
    if after_id is not None:
        stmt = stmt.where(t.id > after_id)
    return list(conn.execute(stmt.order_by(t.id).limit(limit)))


def count_tasks(conn: Connection, principal: Principal, case_id: int) -> dict[str, int]:
    """Readable tasks of a case by status."""
    t = joint_task.c
    stmt = (
        select(t.status, func.count())
        .where(t.case_id == case_id, readable_seq_clause(principal, t.seq))
        .group_by(t.status)
    )
    return {status: int(n) for status, n in conn.execute(stmt)}


def existing_links(conn: Connection, case_id: int, object_ids: Sequence[str]) -> set[str]:
    """Which of these objects are already linked to the case (by anyone)."""
    found: set[str] = set()
    l = joint_link.c  # noqa: E741
    for start in range(0, len(object_ids), 500):
        part = object_ids[start : start + 500]
        found.update(conn.execute(select(l.object_id).where(l.case_id == case_id, l.object_id.in_(part))).scalars())
    return found


def insert_links(conn: Connection, case_id: int, object_ids: Sequence[str], seq: int) -> None:
    """Record links made by one version (of the case, or of a participant's link grouping), with the values of
    the linked objects' newest stored versions (joint_case_value)."""
    if object_ids:
        rows = [{"case_id": case_id, "object_id": i, "object_key": id_key(i), "seq": seq} for i in object_ids]
        conn.execute(insert(joint_link), rows)
        o = stix_object.c
        found: list[tuple[int, str, bytes]] = []
        for start in range(0, len(object_ids), 500):
            part = object_ids[start : start + 500]
            stmt = select(o.id, o.raw).where(id_in(stix_object, part), o.is_latest.is_(True))
            found += [(case_id, r.id, bytes(r.raw)) for r in conn.execute(stmt)]
        add_case_values(conn, found)


def add_case_values(conn: Connection, versions: Sequence[tuple[int, str, bytes]]) -> None:
    """Record the correlating values of linked objects' versions, given as (case, object id, raw JSON); values
    already recorded for the case and object are left as they are."""
    wanted: dict[tuple[int, str, str, str], None] = {}
    for case_id, object_id, raw in versions:
        for v in values_of(orjson.loads(raw)):
            if correlatable(v):
                wanted[(case_id, v.kind, v.key, object_id)] = None
    if not wanted:
        return
    cv = joint_case_value.c
    pairs = sorted({(c, o) for c, _, _, o in wanted})
    for case_id in sorted({c for c, _ in pairs}):
        ids = [o for c, o in pairs if c == case_id]
        for start in range(0, len(ids), 500):
            stmt = select(cv.kind, cv.key, cv.object_id).where(
                cv.case_id == case_id, cv.object_id.in_(ids[start : start + 500])
            )
            for r in conn.execute(stmt):
                wanted.pop((case_id, r.kind, r.key, r.object_id), None)
    if wanted:
        rows = [{"case_id": c, "kind": k, "key": y, "object_id": o} for c, k, y, o in wanted]
        conn.execute(insert(joint_case_value), rows)


def linked_versions(conn: Connection, seqs: Sequence[int]) -> list[tuple[int, str, bytes]]:
    """(case, object id, raw) of these stored versions whose objects are linked to cases (by range scans)."""
    o, l = stix_object.c, joint_link.c  # noqa: E741
    out: list[tuple[int, str, bytes]] = []
    for first, last in seq_runs(seqs):
        stmt = (
            select(l.case_id, o.id, o.raw)
            .join(joint_link, (l.object_key == o.id_key) & (l.object_id == o.id))
            .where(o.seq.between(first, last))
        )
        out += [(r.case_id, r.id, bytes(r.raw)) for r in conn.execute(stmt)]
    return out


def _readable_links(principal: Principal, case_id: int) -> Any:
    """Links of a case whose linking version and linked object the caller may read."""
    l = joint_link.c  # noqa: E741
    obj = stix_object.alias("o")
    return (
        select(l.id, l.object_id, obj.c.raw)
        .join(obj, (obj.c.id_key == l.object_key) & (obj.c.id == l.object_id))
        .where(
            l.case_id == case_id,
            readable_seq_clause(principal, l.seq),
            visible_versions_clause(principal, obj, latest_only=True),
        )
    )


def linked_objects(
    conn: Connection, principal: Principal, case_id: int, *, after_id: int | None, limit: int
) -> list[Row[Any]]:
    """Readable linked objects of a case (newest readable version each), in link order; keyset on link id."""
    stmt = _readable_links(principal, case_id)
    if after_id is not None:
        stmt = stmt.where(joint_link.c.id > after_id)
    return list(conn.execute(stmt.order_by(joint_link.c.id).limit(limit)))


def readable_link_versions(conn: Connection, principal: Principal, case_id: int) -> list[int]:
    """The versions that linked objects to a case (case versions, participants' groupings) the caller may read.

    A case's links come from few versions: checking those once is cheaper than a probe per link
    (bench/bench_joint.py opens a case of 10,000 links).
    """
    l = joint_link.c  # noqa: E741
    seqs = sorted(conn.execute(select(l.seq).where(l.case_id == case_id).distinct()).scalars())
    readable: list[int] = []
    for start in range(0, len(seqs), 500):
        part = seqs[start : start + 500]
        stmt = select(stix_object.c.seq).where(stix_object.c.seq.in_(part), readable_clause(principal, stix_object))
        readable.extend(conn.execute(stmt).scalars())
    return readable


def count_links(conn: Connection, principal: Principal, case_id: int) -> int:
    """How many links of a case come from versions the caller may read (references it can see in them; the
    objects themselves are listed by linked_objects, which filters each)."""
    seqs = readable_link_versions(conn, principal, case_id)
    if not seqs:
        return 0
    l = joint_link.c  # noqa: E741
    return int(conn.execute(select(func.count()).where(l.case_id == case_id, l.seq.in_(seqs))).scalar_one())


def add_event(
    conn: Connection, case_id: int, seq: int, kind: str, actor: str, summary: str, *, task_id: int | None = None
) -> None:
    """One timeline entry, tied to the version that made the change."""
    values = {"case_id": case_id, "seq": seq, "task_id": task_id, "kind": kind, "actor": actor, "summary": summary}
    conn.execute(insert(joint_event).values(at_us=now_us(), **values))


def last_task_change(conn: Connection, task_id: int) -> int:
    """The version that made a task's latest timeline entry (a task version or a task-log note)."""
    e = joint_event.c
    stmt = select(e.seq).where(e.task_id == task_id).order_by(e.id.desc()).limit(1)
    return int(conn.execute(stmt).scalar_one())


def events(conn: Connection, principal: Principal, case_id: int, *, after_id: int | None, limit: int) -> list[Row[Any]]:
    """The timeline entries whose versions the caller may read, oldest first; keyset on id."""
    e = joint_event.c
    stmt = select(joint_event).where(e.case_id == case_id, readable_seq_clause(principal, e.seq))
    if after_id is not None:
        stmt = stmt.where(e.id > after_id)
    return list(conn.execute(stmt.order_by(e.id).limit(limit)))


def task_logs(conn: Connection, principal: Principal, task_id: int) -> list[Row[Any]]:
    """The readable task-log notes of a task (timeline entries of kind task.log naming it), oldest first."""
    e = joint_event.c
    stmt = (
        select(joint_event.c.id, joint_event.c.at_us, joint_event.c.actor, stix_object.c.raw)
        .join(stix_object, stix_object.c.seq == e.seq)
        .where(
            e.task_id == task_id,
            e.kind == "task.log",
            readable_clause(principal, stix_object),
        )
        .order_by(e.id)
    )
    return list(conn.execute(stmt))


def insert_rfi(conn: Connection, row: dict[str, Any]) -> int:
    """A new request row; its id."""
    return int(conn.execute(insert(joint_rfi).values(**row)).inserted_primary_key[0])  # type: ignore[index]


def update_rfi(conn: Connection, rfi_id: int, **values: Any) -> None:
    """Change a request row."""
    conn.execute(update(joint_rfi).where(joint_rfi.c.id == rfi_id).values(**values))


def readable_rfi(conn: Connection, principal: Principal, stix_id: str) -> Row[Any] | None:
    """The request row, if the caller may read its newest version."""
    r = joint_rfi.c
    return conn.execute(select(joint_rfi).where(r.stix_id == stix_id, readable_seq_clause(principal, r.seq))).first()


def list_rfis(conn: Connection, principal: Principal, *, before_id: int | None, limit: int) -> list[Row[Any]]:
    """Readable requests, newest first; keyset on id."""
    r = joint_rfi.c
    stmt = select(joint_rfi, org.c.name.label("owner")).join(org, org.c.id == r.owner_org_id)
    stmt = stmt.where(readable_seq_clause(principal, r.seq))
    if before_id is not None:
        stmt = stmt.where(r.id < before_id)
    return list(conn.execute(stmt.order_by(r.id.desc()).limit(limit)))


def add_answer(conn: Connection, rfi_id: int, org_id: int, seq: int, at_us: int) -> None:
    """Record an answer note."""
    conn.execute(insert(joint_rfi_answer).values(rfi_id=rfi_id, org_id=org_id, seq=seq, at_us=at_us))


def answers(conn: Connection, principal: Principal, rfi_id: int) -> list[Row[Any]]:
    """The answers to a request the caller may read, oldest first, with the answering organisation's name."""
    a = joint_rfi_answer.c
    stmt = (
        select(a.id, a.at_us, a.org_id, org.c.name.label("org"), stix_object.c.raw)
        .join(org, org.c.id == a.org_id)
        .join(stix_object, stix_object.c.seq == a.seq)
        .where(a.rfi_id == rfi_id, readable_clause(principal, stix_object))
        .order_by(a.id)
    )
    return list(conn.execute(stmt))


def user_ids_of_orgs(conn: Connection, org_ids: Sequence[int]) -> list[int]:
    """The enabled users of these organisations."""
    u = app_user.c
    stmt = select(u.id).where(u.org_id.in_(list(org_ids)), u.disabled.is_(False)).order_by(u.id)
    return [int(r.id) for r in conn.execute(stmt)]


def group_member_ids(conn: Connection, group_names: Sequence[str]) -> frozenset[int]:
    """The organisations that are members of these sharing groups now (by group name)."""
    if not group_names:
        return frozenset()
    g, m = sharing_group.c, sharing_group_member.c
    stmt = select(m.org_id).join(sharing_group, g.id == m.group_id).where(g.name.in_(list(group_names)))
    return frozenset(conn.execute(stmt).scalars())


def any_links(conn: Connection) -> bool:
    """Whether any case links an object (else new content cannot correlate with a case)."""
    return conn.execute(select(joint_link.c.id).limit(1)).first() is not None


def case_value_hits(conn: Connection, seqs: Sequence[int], *, limit: int) -> list[Row[Any]]:
    """(case_id, seq of a new version, seq of a linked object's newest version, the value) where a new version
    carries a correlating value (same kind and key in the value index) that an object linked in a case
    carries, the linked object being another object; at most `limit` rows. Joint objects are left out.

    Driven by the values recorded for linked objects (joint_case_value, a few per link): each is one seek of
    the value index's primary key (kind, key, object_seq) bounded to the new seqs, so the cost follows the
    links, not the store (the index has no object_seq-first order to start from the new versions)."""
    cv = joint_case_value.c
    new, held = value_index.alias("n"), value_index.alias("h")
    nobj, linked = stix_object.alias("nobj"), stix_object.alias("linked")
    link = joint_link.alias("l")
    out: list[Row[Any]] = []
    for first, last in seq_runs(seqs):
        source = OrderedJoin(
            OrderedJoin(
                OrderedJoin(
                    OrderedJoin(
                        OrderedJoin(
                            joint_case_value,
                            new,
                            and_(new.c.kind == cv.kind, new.c.key == cv.key, new.c.object_seq.between(first, last)),
                        ),
                        nobj,
                        nobj.c.seq == new.c.object_seq,
                    ),
                    link,
                    and_(link.c.case_id == cv.case_id, link.c.object_id == cv.object_id),
                ),
                linked,
                and_(linked.c.id_key == link.c.object_key, linked.c.id == link.c.object_id, linked.c.is_latest),
            ),
            held,
            and_(held.c.kind == cv.kind, held.c.key == cv.key, held.c.object_seq == linked.c.seq),
        )
        stmt = (
            select(
                cv.case_id,
                new.c.object_seq.label("seq"),
                linked.c.seq.label("linked_seq"),
                func.coalesce(new.c.value, new.c.key).label("value"),
                nobj.c.owner_org_id,
            )
            .select_from(source)
            .where(
                new.c.correlating.is_(True),
                ~cv.kind.startswith("ref:"),
                ~nobj.c.type.startswith("x-accord-"),
                linked.c.id != nobj.c.id,
            )
            .distinct()
            .limit(limit - len(out))
        )
        out += list(conn.execute(stmt))
        if len(out) >= limit:
            break
    return out


RANGED_KINDS = ("ip", "domain")  # the kinds that also match by IP range or parent domain


def linked_object_ids(conn: Connection, case_id: int) -> set[str]:
    """The ids of the objects a case links (whatever their readability: used only to leave them out)."""
    return set(conn.execute(select(joint_link.c.object_id).where(joint_link.c.case_id == case_id)).scalars())


def recorded_ranged_values(conn: Connection, case_id: int | None = None, *, addresses: bool = True) -> list[Row[Any]]:
    """(case_id, kind, key, object_id) of the values recorded for linked objects (of one case, else of every
    case) whose kind matches by range or parent domain too (without single addresses: CIDRs and domains)."""
    cv = joint_case_value.c
    ranged = (
        cv.kind.in_(RANGED_KINDS)
        if addresses
        else or_(cv.kind == "domain", and_(cv.kind == "ip", cv.key.contains("/")))
    )
    stmt = select(cv.case_id, cv.kind, cv.key, cv.object_id).where(ranged)
    if case_id is not None:
        stmt = stmt.where(cv.case_id == case_id)
    return list(conn.execute(stmt))


def new_ranged_values(conn: Connection, seqs: Sequence[int]) -> list[Row[Any]]:
    """(seq, kind, key, value, lo, hi, owner_org_id, object_id) of the correlating ip and domain index rows of
    these new versions (joint objects left out), read by seq through ix_value_index_ranged_seq."""
    v, o = value_index.c, stix_object.c
    out: list[Row[Any]] = []
    for first, last in seq_runs(seqs):
        stmt = (
            select(
                v.object_seq.label("seq"), v.kind, v.key, v.value, v.lo, v.hi, o.owner_org_id, o.id.label("object_id")
            )
            .select_from(
                IndexedJoin(value_index, stix_object, o.seq == v.object_seq, index="ix_value_index_ranged_seq")
            )
            .where(
                text(RANGED_SEQ_WHERE),  # the partial index's own condition: the versions' rows by seq
                v.object_seq.between(first, last),
                v.correlating.is_(True),
                ~o.type.startswith("x-accord-"),
            )
        )
        out += list(conn.execute(stmt))
    return out


def latest_holding(conn: Connection, wanted: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[int]]:
    """For (object id, kind, key): the seqs of the object's newest versions (one per copy) that hold that value."""
    v, o = value_index.c, stix_object.c
    out: dict[tuple[str, str, str], list[int]] = {}
    for object_id, kind, key in sorted(set(wanted)):
        stmt = (
            select(o.seq)
            .join(value_index, and_(v.object_seq == o.seq, v.kind == kind, v.key == key))
            .where(o.id_key == id_key(object_id), o.id == object_id, o.is_latest.is_(True))
        )
        seqs = list(conn.execute(stmt).scalars())
        if seqs:
            out[(object_id, kind, key)] = seqs
    return out


def readable_seqs(conn: Connection, principal: Principal, seqs: Iterable[int]) -> set[int]:
    """Which of these versions the principal may read."""
    wanted = sorted(set(seqs))
    if not wanted:
        return set()
    o = stix_object.c
    stmt = select(o.seq).where(o.seq.in_(wanted), readable_clause(principal, stix_object))
    return set(conn.execute(stmt).scalars())


def cases_by_ids(conn: Connection, ids: Sequence[int]) -> list[Row[Any]]:
    """Case rows by id (the watcher's own use: no caller reads them)."""
    return list(conn.execute(select(joint_case).where(joint_case.c.id.in_(list(ids))).order_by(joint_case.c.id)))


# --- the projection of received joint-work versions (accord.joint.projection): no caller reads these rows --------


def versions_of_types(conn: Connection, seqs: Sequence[int], types: Sequence[str]) -> list[Row[Any]]:
    """(seq, type, version, owner_org_id, raw) of these versions whose type is one of `types`, by range scans."""
    o = stix_object.c
    out: list[Row[Any]] = []
    for first, last in seq_runs(seqs):
        stmt = select(o.seq, o.type, o.version, o.owner_org_id, o.raw).where(
            o.seq.between(first, last), o.type.in_(list(types))
        )
        out += list(conn.execute(stmt))
    return out


def case_by_stix_id(conn: Connection, stix_id: str) -> Row[Any] | None:
    """The case row of this id, whoever may read it (the projection's own use)."""
    return conn.execute(select(joint_case).where(joint_case.c.stix_id == stix_id)).first()


def case_by_pk(conn: Connection, case_id: int) -> Row[Any]:
    """The case row of this primary key (the projection's own use)."""
    return conn.execute(select(joint_case).where(joint_case.c.id == case_id)).one()


def task_by_stix_id(conn: Connection, stix_id: str) -> Row[Any] | None:
    """The task row of this id, whoever may read it (the projection's own use)."""
    return conn.execute(select(joint_task).where(joint_task.c.stix_id == stix_id)).first()


def collection_of_version(conn: Connection, seq: int) -> int | None:
    """The first collection a version was stored into, or None."""
    m = collection_object.c
    stmt = select(m.collection_id).where(m.object_seq == seq).order_by(m.tick).limit(1)
    found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def version_of(conn: Connection, seq: int) -> str:
    """The `modified` (normalised) of one stored version."""
    return str(conn.execute(select(stix_object.c.version).where(stix_object.c.seq == seq)).scalar_one())


def rfi_by_stix_id(conn: Connection, stix_id: str) -> Row[Any] | None:
    """The request row of this id, whoever may read it (the projection's own use)."""
    return conn.execute(select(joint_rfi).where(joint_rfi.c.stix_id == stix_id)).first()
