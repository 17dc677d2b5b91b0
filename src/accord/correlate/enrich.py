"""Enrichment: what the caller may know around matched object versions (names, first and last seen, sightings,
related objects, all policy-filtered), and each match's decayed score, rendered as the JSON of a match.

Lookups (accord.correlate.lookup) and correlations (accord.correlate.service) both render their matches here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection

from accord.core.clock import now_us
from accord.correlate import matching
from accord.correlate import repository as repo
from accord.correlate.scoring import indicator_score
from accord.correlate.values import values_of
from accord.sharing.policy import Principal
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros

RELATED_TYPES = ("intrusion-set", "malware", "campaign", "threat-actor", "tool")


class Context(NamedTuple):
    """One readable object version a value matched (enrichment turns it into the JSON of a match)."""

    seq: int
    id: str
    type: str
    owner: str
    match: str  # exact, cidr, parent-domain (an exact host of a URL becomes url-host when enriched)
    matched_value: str
    index_kind: str  # the matched index row, to tell a URL's host from a plain domain or address
    index_key: str
    value_kind: str  # the kind of the value looked up (or correlated): its decay model scores the match


def _us(ts: Any) -> int | None:
    try:
        return timestamp_to_micros(ts) if isinstance(ts, str) else None
    except ValueError:
        return None


@dataclass(slots=True)
class _Facts:
    """What enrichment knows about one matched object version, shared by every context that names it."""

    body: dict[str, Any]
    first_seq: int | None = None
    last_seq: int | None = None
    shown: tuple[str | None, str | None, str | None] | None = None  # name, first and last seen, once known
    hosts: set[tuple[str, str]] | None = None  # its URL hosts, parsed only when a match needs them
    scores: dict[str, tuple[float, bool]] = field(default_factory=dict)  # per decay kind


class Enricher:
    """What the caller may know around matched object versions: names, first/last seen, sightings, scores and
    related objects (all policy-filtered), fetched once per request and turned into the JSON of each match."""

    def __init__(
        self,
        conn: Connection,
        principal: Principal,
        contexts: Sequence[Context],
        found: Mapping[int, repo.Details] | None = None,
        ids: Iterable[str] = (),
        shared: Iterable[str] = (),
    ) -> None:
        """`found`: the bodies and first/last seen of the contexts' versions when the caller already has them;
        `ids`: more object ids to fetch links for (of versions in `found` that `render` will be asked about);
        `shared`: ids held in more than one copy, whose readable holders are fetched (others: the owner)."""
        # Each object version is fetched, parsed and scored once, however many contexts name it.
        if found is None:
            found = repo.details(conn, principal, sorted({c.seq for c in contexts})) if contexts else {}
        self._facts = {seq: _Facts(orjson.loads(d.raw), d.first_seq, d.last_seq) for seq, d in found.items()}
        self._sightings: dict[str, int] = defaultdict(int)
        self._last_sighting: dict[str, int] = {}
        related: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        ends: dict[str, set[str]] = defaultdict(set)
        ids = sorted({c.id for c in contexts}.union(ids))
        for link in repo.links(conn, principal, ids) if ids else ():
            if link.kind == "ref:sighting" and link.type == "sighting":
                self._sightings[link.ref] += 1
                seen = _us(link.seen)
                if seen is not None and seen > self._last_sighting.get(link.ref, 0):
                    self._last_sighting[link.ref] = seen
            elif link.kind == "ref:report" and link.type == "report" and link.raw is not None:
                name = orjson.loads(link.raw).get("name")
                related[link.ref][link.id] = {"id": link.id, "type": "report", "name": name}
            elif link.kind == "ref:relationship" and link.other:
                ends[link.other].add(link.ref)
        if ends:
            for row in repo.latest_objects(conn, principal, sorted(ends), RELATED_TYPES):
                name = orjson.loads(row.raw).get("name")
                for ref in ends[row.id]:
                    related[ref][row.id] = {"id": row.id, "type": row.type, "name": name}
        self._related = {ref: sorted(got.values(), key=lambda r: (r["type"], r["id"])) for ref, got in related.items()}
        shared = list(shared)
        self._holders = repo.holders(conn, principal, shared) if shared else {}
        self._now = now_us()

    def match(self, ctx: Context) -> dict[str, Any]:
        """The JSON of one match."""
        return self.render(*ctx)

    def render(
        self,
        seq: int,
        oid: str,
        otype: str,
        owner: str,
        match: str,
        matched_value: str,
        index_kind: str,
        index_key: str,
        value_kind: str,
    ) -> dict[str, Any]:
        """The JSON of one match, from the fields of its Context."""
        fact = self._facts.get(seq)
        if fact is None:
            fact = self._facts[seq] = _Facts({})
        body = fact.body
        if fact.shown is None:
            first = last = None
            if fact.first_seq is not None and fact.last_seq is not None:
                first = micros_to_timestamp(fact.first_seq)
                latest = max(fact.last_seq, self._last_sighting.get(oid, 0))
                last = first if latest == fact.first_seq else micros_to_timestamp(latest)
            fact.shown = (matching.object_name(body), first, last)
        if match == "exact" and index_kind in ("domain", "ip"):
            if fact.hosts is None:
                fact.hosts = matching.url_hosts(values_of(body)) if _may_hold_urls(body) else set()
            if (index_kind, index_key) in fact.hosts:
                match = "url-host"
        scored = fact.scores.get(value_kind)
        if scored is None:
            last_seen = self._last_sighting.get(oid)
            scored = fact.scores[value_kind] = indicator_score(body, value_kind, last_seen, self._now)
        name, first_seen, last_seen_at = fact.shown
        return {
            "id": oid,
            "type": otype,
            "name": name,
            "owner": owner,
            "held_by": self._holders.get(oid) or [owner],
            "match": match,
            "matched_value": matched_value,
            "first_seen": first_seen,
            "last_seen": last_seen_at,
            "sightings": self._sightings.get(oid, 0),
            "score": round(scored[0], 1),
            "expired": scored[1],
            "related": list(self._related.get(oid, ())),
        }


def _may_hold_urls(body: Mapping[str, Any]) -> bool:
    # Only url objects and indicators whose pattern names a url carry URL rows: others need no parsing.
    kind = body.get("type")
    return kind == "url" or (kind == "indicator" and "url" in str(body.get("pattern", "")))
