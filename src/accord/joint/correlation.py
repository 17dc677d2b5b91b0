"""Case correlation: which values of a case's linked objects also appear in other content the caller may read
(who holds it, when it was last seen) and in other cases it may read. Every object and case is filtered by the
sharing policy: nothing unreadable shows, not even as a count.

The summary (what a case page shows) joins the case's recorded values (joint_case_value, filled when objects
are linked) to the value index: one index seek per value, whatever the size of the linked objects, and only the
few matches are then checked through the policy. It matches equal values (the index's normalised keys);
`match=all` runs the correlation service over every readable linked object instead (IP ranges and parent
domains too), which reads and parses them all.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, exists, select

from accord.core.settings import get_settings
from accord.correlate import matching
from accord.correlate.service import objects_correlations
from accord.joint.repository import linked_objects, org_names, readable_link_versions
from accord.joint.service import get_case_ref
from accord.models.correlate import value_index
from accord.models.joint import joint_case, joint_case_value, joint_link
from accord.models.objects import id_in, stix_object
from accord.sharing.policy import Principal, readable_clause, visible_versions_clause
from accord.stix.ids import id_key

MAX_VALUES = 100
MAX_LINKED = 20_000  # linked objects the full correlation reads
MAX_CANDIDATES = 20_000  # matching index rows the summary considers before the policy (then: `truncated`)
CHUNK = 500  # values or objects per statement


def _other_cases(conn: Connection, principal: Principal, case_id: int, objects: list[tuple[int, str]]) -> list[Any]:
    """Other readable cases linking these objects (by a version the caller may read): (object id, case, title)."""
    other, c2 = joint_link.alias("other"), joint_case.alias("c2")
    case_version, link_version = stix_object.alias("cv"), stix_object.alias("lv")
    stmt = (
        select(other.c.object_id, c2.c.stix_id, c2.c.title)
        .join(c2, and_(c2.c.id == other.c.case_id, c2.c.id != case_id))
        .join(case_version, case_version.c.seq == c2.c.seq)
        .join(link_version, link_version.c.seq == other.c.seq)
        .where(
            other.c.object_key.in_([k for k, _ in objects]),
            other.c.object_id.in_([i for _, i in objects]),
            readable_clause(principal, case_version),
            readable_clause(principal, link_version),
        )
    )
    return list(conn.execute(stmt))


def _candidates(conn: Connection, case_id: int) -> list[Row[Any]]:
    """Index rows (not of the case's own linked objects) sharing a value with the case's recorded values, with
    the linked object that holds it: no policy yet, the caller filters every row."""
    cv, vi, o = joint_case_value.c, value_index.c, stix_object.c
    linked = joint_link.alias("l2")
    stmt = (
        select(cv.kind, cv.key, cv.object_id.label("via"), vi.value, o.seq, o.id, o.owner_org_id, o.version)
        .join(value_index, and_(vi.kind == cv.kind, vi.key == cv.key))
        .join(stix_object, o.seq == vi.object_seq)
        .where(
            cv.case_id == case_id,
            vi.correlating.is_(True),
            o.is_latest.is_(True),
            ~exists().where(linked.c.case_id == case_id, linked.c.object_key == o.id_key, linked.c.object_id == o.id),
        )
        .limit(MAX_CANDIDATES + 1)
    )
    return list(conn.execute(stmt))


def _readable(conn: Connection, principal: Principal, seqs: set[int]) -> set[int]:
    """Which of these versions the caller may read."""
    wanted, out = sorted(seqs), set[int]()
    for start in range(0, len(wanted), CHUNK):
        stmt = select(stix_object.c.seq).where(
            stix_object.c.seq.in_(wanted[start : start + CHUNK]), readable_clause(principal, stix_object)
        )
        out.update(conn.execute(stmt).scalars())
    return out


def _visible_holders(
    conn: Connection, principal: Principal, case_id: int, pairs: set[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Of these (kind, key, linked object id), those whose linked object the caller reads through a link version it
    may read, in the version it reads (the value must be in that version, not only in one it may not read)."""
    ids = sorted({i for _, _, i in pairs})
    link_seqs = set(readable_link_versions(conn, principal, case_id))
    linked: set[str] = set()
    l = joint_link.c  # noqa: E741
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        stmt = select(l.object_id, l.seq).where(l.case_id == case_id, l.object_id.in_(part))
        linked.update(r.object_id for r in conn.execute(stmt) if r.seq in link_seqs)
    seqs: dict[str, int] = {}
    for start in range(0, len(ids), CHUNK):
        part = [i for i in ids[start : start + CHUNK] if i in linked]
        if not part:
            continue
        stmt = select(stix_object.c.id, stix_object.c.seq).where(
            id_in(stix_object, part), visible_versions_clause(principal, stix_object, latest_only=True)
        )
        seqs.update((r.id, r.seq) for r in conn.execute(stmt))
    vi = value_index.c
    out: set[tuple[str, str, str]] = set()
    for kind, key, object_id in pairs:
        seq = seqs.get(object_id)
        if seq is None:
            continue
        held = select(vi.object_seq).where(vi.kind == kind, vi.key == key, vi.object_seq == seq)
        if conn.execute(held).first() is not None:
            out.add((kind, key, object_id))
    return out


def case_correlations(
    conn: Connection, principal: Principal, case_id: str, *, limit: int = MAX_VALUES, match: str = "equal"
) -> dict[str, Any]:
    """Per value of the case's readable linked objects also in other readable content (at most `limit`
    values): who holds it (objects, last seen) and the other readable cases linking those objects.
    `match="all"` uses the correlation service's matching (exact, IP ranges, parent domains) over every
    readable linked object; the default matches equal values through the case's recorded values."""
    ref = get_case_ref(conn, principal, case_id)
    if match == "all":
        return _full(conn, principal, ref.row.id, limit)
    rows = _candidates(conn, ref.row.id)
    truncated = len(rows) > MAX_CANDIDATES
    rows = rows[:MAX_CANDIDATES]
    wl = matching.matcher()
    shown: dict[tuple[str, str], str] = {}
    for r in rows:
        if (r.kind, r.key) not in shown:
            shown[(r.kind, r.key)] = matching.shown(r.kind, r.key, r.value)
    benign = {k for k, v in shown.items() if wl.hits(k[0], v)}
    rows = [r for r in rows if (r.kind, r.key) not in benign]
    readable = _readable(conn, principal, {r.seq for r in rows})
    rows = [r for r in rows if r.seq in readable]
    holders = _visible_holders(conn, principal, ref.row.id, {(r.kind, r.key, r.via) for r in rows})
    rows = [r for r in rows if (r.kind, r.key, r.via) in holders]
    by_value: dict[tuple[str, str], dict[str, Row[Any]]] = defaultdict(dict)
    for r in rows:
        by_value[(r.kind, r.key)][r.id] = r
    widespread_limit = get_settings().correlation_widespread
    widespread = [
        {"kind": k, "value": shown[(k, y)], "widespread": True, "count": len(found)}
        for (k, y), found in sorted(by_value.items())
        if len(found) > widespread_limit
    ]
    kept = sorted(((k, v) for k, v in by_value.items() if len(v) <= widespread_limit), key=lambda kv: kv[0])
    page = kept[:limit]
    matched = sorted({(id_key(i), i) for _, found in page for i in found})
    cases: dict[str, set[tuple[str, str]]] = {}
    for start in range(0, len(matched), CHUNK):
        for row in _other_cases(conn, principal, ref.row.id, matched[start : start + CHUNK]):
            cases.setdefault(row.object_id, set()).add((row.stix_id, row.title))
    names = org_names(conn, {r.owner_org_id for _, found in page for r in found.values()})
    out = []
    for (kind, key), found in page:
        held: dict[str, tuple[int, str]] = {}
        in_cases: set[tuple[str, str]] = set()
        for r in found.values():
            org = names.get(r.owner_org_id, "")
            n, last = held.get(org, (0, ""))
            held[org] = (n + 1, max(last, r.version))
            in_cases |= cases.get(r.id, set())
        out.append(
            {
                "kind": kind,
                "value": shown[(kind, key)],
                "seen_by": [{"org": o, "objects": n, "last_seen": last} for o, (n, last) in sorted(held.items())],
                "cases": [{"id": i, "title": t} for i, t in sorted(in_cases)],
            }
        )
    return {"values": out, "matching_values": len(kept), "widespread": widespread, "truncated": truncated}


def _full(conn: Connection, principal: Principal, case_pk: int, limit: int) -> dict[str, Any]:
    """The correlation service's matching over every readable linked object (reads and parses them all)."""
    linked = [orjson.loads(r.raw) for r in linked_objects(conn, principal, case_pk, after_id=None, limit=MAX_LINKED)]
    found = objects_correlations(conn, principal, linked, exclude={o["id"] for o in linked})
    matched = sorted({(id_key(c["id"]), c["id"]) for c in found["correlations"]})
    cases: dict[str, set[tuple[str, str]]] = {}
    for start in range(0, len(matched), CHUNK):
        for row in _other_cases(conn, principal, case_pk, matched[start : start + CHUNK]):
            cases.setdefault(row.object_id, set()).add((row.stix_id, row.title))
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for c in found["correlations"]:
        entry = values.setdefault(
            (c["kind"], c["value"]), {"kind": c["kind"], "value": c["value"], "held": {}, "cases": set()}
        )
        for holder in c["held_by"]:
            ids, last = entry["held"].get(holder, (set(), None))
            ids.add(c["id"])
            entry["held"][holder] = (ids, max(filter(None, (last, c["last_seen"])), default=None))
        entry["cases"].update(cases.get(c["id"], ()))
    out = [
        {
            "kind": v["kind"],
            "value": v["value"],
            "seen_by": [
                {"org": org, "objects": len(ids), "last_seen": last} for org, (ids, last) in sorted(v["held"].items())
            ],
            "cases": [{"id": i, "title": t} for i, t in sorted(v["cases"])],
        }
        for _, v in sorted(values.items())
    ]
    return {"values": out[:limit], "matching_values": len(out), "widespread": found["widespread"], "truncated": False}
