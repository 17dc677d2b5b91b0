"""Case correlation: which values of a case's linked objects also appear in other content the caller may read
(who holds it, when it was last seen) and in other cases it may read. The matching is the correlation service's
(accord.correlate); every object and case is filtered by the sharing policy: nothing unreadable shows, not even
as a count."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, and_, select

from accord.correlate.service import objects_correlations
from accord.joint.repository import linked_objects
from accord.joint.service import get_case_ref
from accord.models.joint import joint_case, joint_link
from accord.models.objects import stix_object
from accord.sharing.policy import Principal, readable_clause
from accord.stix.ids import id_key

MAX_VALUES = 100
MAX_LINKED = 20_000  # linked objects a correlation reads
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


def case_correlations(
    conn: Connection, principal: Principal, case_id: str, *, limit: int = MAX_VALUES
) -> dict[str, Any]:
    """Per value of the case's readable linked objects also in other readable content (at most `limit`
    values): who holds it (objects, last seen) and the other readable cases linking those objects. The
    matching is the correlation service's (exact, IP ranges, parent domains; warninglisted values never)."""
    ref = get_case_ref(conn, principal, case_id)
    linked = [orjson.loads(r.raw) for r in linked_objects(conn, principal, ref.row.id, after_id=None, limit=MAX_LINKED)]
    found = objects_correlations(conn, principal, linked, exclude={o["id"] for o in linked})
    matched = sorted({(id_key(c["id"]), c["id"]) for c in found["correlations"]})
    cases: dict[str, set[tuple[str, str]]] = {}
    for start in range(0, len(matched), CHUNK):
        for row in _other_cases(conn, principal, ref.row.id, matched[start : start + CHUNK]):
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
    return {"values": out[:limit], "matching_values": len(out), "widespread": found["widespread"]}
