"""What enriches an exported object: the sightings and the reports naming it that the caller may read.

Both are read from the `ref:` rows of value_index through the sharing policy (`readable_clause` over the
sighting or report version), for a page of exported objects at a time (source.enrich).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from accord.models.correlate import value_index
from accord.models.objects import stix_object
from accord.sharing.policy import Principal, readable_clause
from accord.stix.timestamps import timestamp_to_micros


def keys_in(key: Any, ids: list[str], span: tuple[int, int] | None) -> Any:
    """`key` among these ids; with `span` (the seq range of a page of versions holding every one of them),
    among the ids stored in that range instead: one subquery, not a parameter per id."""
    if span is None:
        return key.in_(ids)
    o = stix_object.c
    return key.in_(select(o.id).where(o.seq.between(*span)))


def last_sightings(
    conn: Connection, principal: Principal, ids: list[str], span: tuple[int, int] | None = None
) -> dict[str, tuple[int, int]]:
    """(last seen µs, sighting objects) of each id, from the sightings the caller may read."""
    if not ids:
        return {}
    vi = value_index.c
    s = stix_object.alias("s")
    rows = conn.execute(
        select(vi.key, func.max(vi.lo), func.count())
        .select_from(value_index.join(s, s.c.seq == vi.object_seq))
        .where(
            vi.kind == "ref:sighting",
            keys_in(vi.key, ids, span),
            s.c.is_latest.is_(True),
            readable_clause(principal, s),
        )
        .group_by(vi.key)
    ).all()
    out = {}
    for key, last, count in rows:
        try:
            out[str(key)] = (timestamp_to_micros(last), int(count)) if last else (0, int(count))
        except ValueError:
            out[str(key)] = (0, int(count))
    return out


def reports(
    conn: Connection, principal: Principal, ids: list[str], span: tuple[int, int] | None = None
) -> dict[str, list[str]]:
    """The readable reports naming each id."""
    if not ids:
        return {}
    vi = value_index.c
    r = stix_object.alias("r")
    rows = conn.execute(
        select(vi.key, r.c.id)
        .select_from(value_index.join(r, r.c.seq == vi.object_seq))
        .where(
            vi.kind == "ref:report",
            keys_in(vi.key, ids, span),
            r.c.is_latest.is_(True),
            readable_clause(principal, r),
        )
        .distinct()
        .order_by(vi.key, r.c.id)
    ).all()
    out: dict[str, list[str]] = {}
    for key, report_id in rows:
        out.setdefault(str(key), []).append(str(report_id))
    return out
