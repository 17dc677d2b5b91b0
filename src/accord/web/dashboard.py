"""The dashboard's figures: readable objects and sightings received per day and organisation, link health."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from accord.accounts.service import list_collections, list_orgs
from accord.core.clock import now_us
from accord.correlate import service as correlate_service
from accord.federation.service import subscriptions
from accord.feeds.service import list_feeds
from accord.sharing.policy import Principal
from accord.store.queries import DAY_US, collection_counts, daily_counts

DAYS = 30
TOP_VALUES = 10
CANDIDATES = 300  # the newest readable objects whose values may be listed as top correlated values
MAX_SERIES = 8  # organisations drawn separately; the rest are summed as "others"


def _day_label(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%m-%d")


def figures(conn: Connection, principal: Principal, recent: Sequence[bytes] = ()) -> dict[str, Any]:
    """What the dashboard shows this user (counts only over what the user may read); `recent` are the newest
    readable objects (raw), whose values are the candidates for the top correlated values."""
    today = now_us() // DAY_US
    first = today - DAYS + 1
    days = list(range(first, today + 1))
    names = {row.id: row.name for row in list_orgs(conn)}
    per_org: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sightings: dict[int, int] = defaultdict(int)
    for (day, org_id, sighting), count in daily_counts(conn, principal, since_us=first * DAY_US).items():
        per_org[names.get(org_id, "?")][day] += count
        if sighting:
            sightings[day] += count
    ranked = sorted(per_org, key=lambda name: -sum(per_org[name].values()))
    series = [{"label": name, "data": [per_org[name][d] for d in days]} for name in ranked[:MAX_SERIES]]
    if len(ranked) > MAX_SERIES:
        rest = ranked[MAX_SERIES:]
        series.append({"label": "others", "data": [sum(per_org[n][d] for n in rest) for d in days]})
    charts = {
        "days": [_day_label(d) for d in days],
        "received": series,
        "sightings": [sightings[d] for d in days],
    }
    totals = [(name, sum(per_org[name].values())) for name in ranked]
    titles = {c.id: c.title for c in list_collections(conn)}
    per_collection = collection_counts(conn, principal, since_us=first * DAY_US)
    collections = sorted(((titles.get(cid, "?"), n) for cid, n in per_collection.items()), key=lambda t: (-t[1], t[0]))
    health = _health(conn) if principal.is_admin else None
    top = correlate_service.top_values(conn, principal, recent, limit=TOP_VALUES)
    return {
        "charts": charts,
        "totals": totals,
        "collections": collections,
        "health": health,
        "days": DAYS,
        "top_values": top,
    }


def _health(conn: Connection) -> dict[str, list[Any]]:
    """Feeds and peer subscriptions with their last run and error (for node admins)."""
    return {"feeds": list_feeds(conn), "subscriptions": subscriptions(conn)}
