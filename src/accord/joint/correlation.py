"""Case correlation: which values of a case's linked objects also appear in other content the caller may read
(who holds it, when it was last seen) and in other cases it may read. Every object and case is filtered by the
sharing policy: nothing unreadable shows, not even as a count.

The summary (what a case page shows) joins the case's recorded values (joint_case_value, filled when objects
are linked) to the value index: one index seek per value, whatever the size of the linked objects, and only the
few matches are then checked through the policy. It matches equal values (the index's normalised keys) and,
for the recorded ip and domain values, related ones (an address inside a CIDR or a CIDR holding an address, a
subdomain or a parent domain) with the correlation engine's probes through the policy (accord.correlate);
`match=equal` leaves those out, `match=all` runs the correlation service over every readable linked object
instead, which reads and parses them all.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Row, and_, exists, select

from accord.core.settings import get_settings
from accord.correlate import matching
from accord.correlate.repository import EXACT, Probe, cidr_lengths, probe
from accord.correlate.service import objects_correlations
from accord.correlate.values import IndexValue
from accord.joint.repository import (
    linked_object_ids,
    linked_objects,
    org_names,
    readable_link_versions,
    recorded_ranged_values,
)
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
MAX_RELATED_SHOWN = 20  # related values listed per entry


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
    conn: Connection, principal: Principal, case_id: str, *, limit: int = MAX_VALUES, match: str = "related"
) -> dict[str, Any]:
    """Per value of the case's readable linked objects also in other readable content (at most `limit`
    values): who holds it (objects, last seen) and the other readable cases linking those objects.
    The default ("related") matches the case's recorded values as equal values, by IP range and by parent
    domain; "equal" only equal values; "all" runs the correlation service over every readable linked object."""
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
    names = org_names(conn, {r.owner_org_id for r in rows})
    # (kind, key of the case's value, match) -> holder object id -> (owner, version, the holder's value shown)
    by_value: dict[tuple[str, str, str], dict[str, Holder]] = defaultdict(dict)
    for r in rows:
        by_value[(r.kind, r.key, "exact")][r.id] = Holder(
            names.get(r.owner_org_id, ""), r.version, shown[(r.kind, r.key)]
        )
    if match == "related":
        more, cut = _related(conn, principal, ref.row.id)
        truncated = truncated or cut
        for (kind, key, how), object_id, holder in more:
            by_value[(kind, key, how)].setdefault(object_id, holder)
            shown.setdefault((kind, key), matching.shown(kind, key, None))
    widespread_limit = get_settings().correlation_widespread
    widespread = [
        {"kind": k, "value": shown[(k, y)], "match": how, "widespread": True, "count": len(found)}
        for (k, y, how), found in sorted(by_value.items())
        if len(found) > widespread_limit
    ]
    kept = sorted(((k, v) for k, v in by_value.items() if len(v) <= widespread_limit), key=lambda kv: kv[0])
    page = kept[:limit]
    matched = sorted({(id_key(i), i) for _, found in page for i in found})
    cases: dict[str, set[tuple[str, str]]] = {}
    for start in range(0, len(matched), CHUNK):
        for row in _other_cases(conn, principal, ref.row.id, matched[start : start + CHUNK]):
            cases.setdefault(row.object_id, set()).add((row.stix_id, row.title))
    out = []
    for (kind, key, how), found in page:
        held: dict[str, tuple[int, str]] = {}
        in_cases: set[tuple[str, str]] = set()
        for object_id, h in found.items():
            n, last = held.get(h.owner, (0, ""))
            held[h.owner] = (n + 1, max(last, h.version))
            in_cases |= cases.get(object_id, set())
        entry: dict[str, Any] = {"kind": kind, "value": shown[(kind, key)], "match": how}
        if how != "exact":  # the related values the holders carry
            entry["related"] = sorted({h.value for h in found.values()})[:MAX_RELATED_SHOWN]
        entry["seen_by"] = [{"org": o, "objects": n, "last_seen": last} for o, (n, last) in sorted(held.items())]
        entry["cases"] = [{"id": i, "title": t} for i, t in sorted(in_cases)]
        out.append(entry)
    return {"values": out, "matching_values": len(kept), "widespread": widespread, "truncated": truncated}


class Holder(NamedTuple):
    """An object holding a case's value (or a related one): its owner's name, its version, its value shown."""

    owner: str
    version: str
    value: str


def _related(
    conn: Connection, principal: Principal, case_pk: int
) -> tuple[list[tuple[tuple[str, str, str], str, Holder]], bool]:
    """The case's recorded ip and domain values matched by IP range or parent domain (not by an equal value)
    in readable content other than its linked objects: ((kind, key, match), holder id, holder), and whether
    there were more than MAX_CANDIDATES. The correlation engine's probes (accord.correlate) through the policy;
    a value counts only where the caller reads the linked object's version that holds it (_visible_holders)."""
    # An address is related only to CIDRs holding it: without CIDRs in the index, addresses are not even read.
    lengths = cidr_lengths(conn)
    sources: list[tuple[str, str, IndexValue]] = []  # by tag: the case's (kind, key) and its index row
    tag_of: dict[tuple[str, str], int] = {}
    vias: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in recorded_ranged_values(conn, case_pk, addresses=any(lengths.values())):
        vias[(r.kind, r.key)].add(r.object_id)
        if (r.kind, r.key) in tag_of:
            continue
        row = matching.recorded_value(r.kind, r.key)
        if row is not None and matching.correlatable(row):
            tag_of[(r.kind, r.key)] = len(sources)
            sources.append((r.kind, r.key, row))
    if not sources:
        return [], False
    # Probes are shared between values (addresses of one network probe for the same CIDRs): tag = probe number.
    numbers: dict[tuple[str, str, str, str], int] = {}
    asked_by: list[list[int]] = []  # probe number -> the sources asking it
    for tag, (_, key, row) in enumerate(sources):
        for k in matching.probe_keys(row, lengths, related=True):
            if not (k[0] == EXACT and k[2] == key):
                number = numbers.setdefault(k, len(numbers))
                if number == len(asked_by):
                    asked_by.append([])
                asked_by[number].append(tag)
    probes = [Probe(number, *k) for k, number in numbers.items()]
    linked = linked_object_ids(conn, case_pk)
    wl = matching.matcher()
    answers = []
    benign: dict[tuple[str, str], bool] = {}  # warninglists, asked only of the values that matched (both sides)
    for m in probe(conn, principal, probes):
        if m.id in linked:
            continue
        value = matching.shown(m.kind, m.key, m.value)
        for tag in asked_by[m.tag]:
            kind, key, row = sources[tag]
            if m.key == key:
                continue
            for either in ((kind, row.value), (m.kind, value)):
                if either not in benign:
                    benign[either] = bool(wl.hits(*either))
            if not benign[(kind, row.value)] and not benign[(m.kind, value)]:
                answers.append((kind, key, matching.match_kind(row, m.kind, m.key, set()), m, value))
    truncated = len(answers) > MAX_CANDIDATES
    answers = answers[:MAX_CANDIDATES]
    pairs = {(kind, key, via) for kind, key, _, _, _ in answers for via in vias[(kind, key)]}
    holders = _visible_holders(conn, principal, case_pk, pairs)
    held = {(kind, key) for kind, key, _ in holders}
    answers = [a for a in answers if (a[0], a[1]) in held]
    versions = _versions(conn, {m.seq for _, _, _, m, _ in answers})
    out = [((kind, key, how), m.id, Holder(m.owner, versions[m.seq], value)) for kind, key, how, m, value in answers]
    return out, truncated


def _versions(conn: Connection, seqs: set[int]) -> dict[int, str]:
    """The version (modified) of each of these object versions."""
    wanted = sorted(seqs)
    out: dict[int, str] = {}
    o = stix_object.c
    for start in range(0, len(wanted), CHUNK):
        stmt = select(o.seq, o.version).where(o.seq.in_(wanted[start : start + CHUNK]))
        out.update((r.seq, r.version) for r in conn.execute(stmt))
    return out


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
