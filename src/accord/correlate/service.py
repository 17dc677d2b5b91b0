"""Correlations: the other readable objects that share a value with an object, or with a report's objects.

Nothing is stored pairwise: each request probes the value index with the object's own values and filters
every answer through the sharing policy, so a correlation never names, counts or dates an unreadable object.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.core.errors import NotFound
from accord.core.settings import get_settings
from accord.correlate import matching
from accord.correlate import repository as repo
from accord.correlate.enrich import Context, Enricher
from accord.correlate.values import IndexValue, values_of
from accord.sharing.policy import Principal

_Source = tuple[str, IndexValue]  # (id of the object the value is on, the value)


def _correlate(
    conn: Connection, principal: Principal, groups: Sequence[tuple[str, list[IndexValue]]], exclude: set[str]
) -> dict[str, Any]:
    wl = matching.matcher()
    settings = get_settings()
    limit = settings.correlation_widespread
    sources: list[_Source] = []
    listed: list[dict[str, Any]] = []
    hosts: dict[str, set[tuple[str, str]]] = {}
    for origin, rows in groups:
        hosts[origin] = matching.url_hosts(rows)
        for row in rows:
            if not matching.correlatable(row):
                continue
            hits = wl.hits(row.kind, row.value)
            if hits:  # a known-benign value never correlates; it is flagged instead
                listed.append({"object": origin, "kind": row.kind, "value": row.value, "warninglists": hits})
            else:
                sources.append((origin, row))
    lengths = repo.cidr_lengths(conn) if any(row.kind == "ip" for _, row in sources) else {}
    probes = [p for tag, (_, row) in enumerate(sources) for p in matching.probes_for(tag, row, lengths, related=True)]
    benign: dict[tuple[str, str], bool] = {}
    per_tag: dict[int, dict[str, repo.Match]] = defaultdict(dict)

    def keep(matches: list[repo.Match]) -> None:
        for m in matches:
            if m.id in exclude:
                continue
            shown = matching.shown(m.kind, m.key, m.value)
            if (m.kind, shown) not in benign:
                benign[(m.kind, shown)] = bool(wl.hits(m.kind, shown))
            if benign[(m.kind, shown)]:
                continue
            prior = per_tag[m.tag].get(m.id)
            if prior is None or (m.mode == repo.EXACT and prior.mode != repo.EXACT):
                per_tag[m.tag][m.id] = m

    # Each probe reads at most `cap` readable answers: a widespread value's thousands of index rows are not
    # each read through the policy (bench/bench_web.py, report page). A value cut short with at most `limit`
    # answers kept (the others excluded or benign) is probed again in full.
    found_capped, cut = repo.probe_capped(conn, principal, probes, max(settings.correlation_count_cap, limit + 1))
    keep(found_capped)
    again = {tag for tag in cut if len(per_tag.get(tag, ())) <= limit}
    if again:
        for tag in again:
            per_tag.pop(tag, None)
        keep(repo.probe(conn, principal, [p for p in probes if p.tag in again]))
    capped = cut - again
    found: list[tuple[_Source, Context]] = []
    widespread: list[dict[str, Any]] = []
    for tag, answers in sorted(per_tag.items()):
        origin, row = sources[tag]
        if len(answers) > limit:
            count = {"widespread": True, "count": len(answers), "count_capped": tag in capped}
            widespread.append({"object": origin, "kind": row.kind, "value": row.value, **count})
            continue
        for m in sorted(answers.values(), key=lambda m: m.seq):
            match = matching.match_kind(row, m.kind, m.key, hosts[origin])
            shown = matching.shown(m.kind, m.key, m.value)
            found.append(((origin, row), Context(m.seq, m.id, m.type, m.owner, match, shown, m.kind, m.key, row.kind)))
    shared = {m.id for answers in per_tag.values() for m in answers.values() if not m.sole}
    enricher = Enricher(conn, principal, [c for _, c in found], shared=shared)
    correlations = [
        {"object": origin, "kind": row.kind, "value": row.value, **enricher.match(ctx)} for (origin, row), ctx in found
    ]
    return {"correlations": correlations, "widespread": widespread, "warninglisted": listed}


def object_correlations(conn: Connection, principal: Principal, stix_id: str) -> dict[str, Any]:
    """Correlations of one readable object (404 when missing or unreadable, R7)."""
    row = repo.latest_readable(conn, principal, stix_id)
    if row is None:
        raise NotFound(f"no object {stix_id}")
    result = _correlate(conn, principal, [(row.id, values_of(orjson.loads(row.raw)))], exclude={row.id})
    for item in result["correlations"] + result["widespread"] + result["warninglisted"]:
        del item["object"]
    # Other organisations holding a copy of the object itself (an SCO: the same value) correlate with it too.
    return {"id": row.id, "held_by": repo.holders(conn, principal, [row.id]).get(row.id, []), **result}


def report_correlations(conn: Connection, principal: Principal, report_id: str) -> dict[str, Any]:
    """Correlations of a report's readable objects with objects outside it, summarised per other object."""
    row = repo.latest_readable(conn, principal, report_id)
    if row is None or row.type != "report":
        raise NotFound(f"no report {report_id}")
    refs = [r for r in orjson.loads(row.raw).get("object_refs") or () if isinstance(r, str)]
    members = repo.latest_objects(conn, principal, refs)
    return report_members_correlations(conn, principal, row.id, refs, [orjson.loads(m.raw) for m in members])


def report_members_correlations(
    conn: Connection, principal: Principal, report_id: str, refs: Sequence[str], members: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """report_correlations for a report the caller read, given its refs and its readable members' bodies."""
    groups = [(m["id"], values_of(m)) for m in members]
    result = _correlate(conn, principal, groups, exclude={report_id, *refs})
    summary: dict[str, dict[str, Any]] = {}
    for item in result["correlations"]:
        shown = {k: item[k] for k in ("id", "type", "name", "owner", "first_seen", "last_seen")}
        entry = summary.setdefault(item["id"], shown | {"values": [], "via": []})
        if item["value"] not in entry["values"]:
            entry["values"].append(item["value"])
        if item["object"] not in entry["via"]:
            entry["via"].append(item["object"])
    return {
        "id": report_id,
        "objects": len(members),
        "correlated_objects": sorted(summary.values(), key=lambda e: (-len(e["via"]), e["id"])),
        **result,
    }


def objects_correlations(
    conn: Connection, principal: Principal, objects: Sequence[Mapping[str, Any]], exclude: set[str]
) -> dict[str, Any]:
    """Correlations of a set of objects the caller read (e.g. a case's linked objects) with other readable
    content, leaving out the objects in `exclude`."""
    return _correlate(conn, principal, [(o["id"], values_of(o)) for o in objects], exclude=exclude)


def top_values(
    conn: Connection, principal: Principal, recent: Sequence[bytes], *, limit: int = 10
) -> list[dict[str, Any]]:
    """The values of these readable objects (raw bodies, e.g. the newest ones) that the most readable objects
    hold, across organisations: each with how many readable objects and how many organisations hold it.

    Candidates come only from objects the caller read, and every count is one probe of the value index through
    the sharing policy (exact keys), so nothing unreadable decides what is listed or counted. Values held by one
    object only, and known-benign (warninglisted) values, are left out. Like correlations, each probe reads at
    most `correlation_count_cap` + 1 readable objects: a value past the cap is listed with `count_capped` and
    lower bounds for its counts, so the dashboard's cost does not grow with the store (bench/bench_web.py).
    """
    wl = matching.matcher()
    seen: dict[tuple[str, str], IndexValue] = {}
    for raw in recent:
        for row in values_of(orjson.loads(raw)):
            if matching.correlatable(row) and (row.kind, row.key) not in seen:
                seen[(row.kind, row.key)] = row
    rows = [row for row in seen.values() if not wl.hits(row.kind, row.value)]
    probes = [p for tag, row in enumerate(rows) for p in matching.probes_for(tag, row, {}, related=False)]
    holders: dict[int, dict[str, str]] = defaultdict(dict)  # tag -> object id -> owner
    found, cut = repo.probe_capped(conn, principal, probes, get_settings().correlation_count_cap)
    for m in found:
        holders[m.tag][m.id] = m.owner
    ranked = sorted(
        ((len(held), len(set(held.values())), rows[tag].kind, rows[tag].value, tag) for tag, held in holders.items()),
        key=lambda r: (-r[0], -r[1], r[2], r[3]),
    )
    return [
        {"kind": kind, "value": value, "objects": objects, "orgs": orgs, "count_capped": tag in cut}
        for objects, orgs, kind, value, tag in ranked[:limit]
        if objects > 1
    ]
