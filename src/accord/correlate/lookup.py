"""Lookup: what the caller may know about raw or defanged values, answered in a fixed number of batched queries.

Stages (each one SQL statement whatever the batch size; later stages run only when earlier ones found
something): CIDR prefix lengths in use (only when the input holds addresses), index probes, bodies and
first/last seen of the matched objects, their links (reports, relationships, sightings), and the names of
related intrusion sets, malware, campaigns and threat actors. Every stage filters through the policy.

Warninglists are checked at query time with the cached in-memory matcher (not stored at ingest), so changing
the active lists takes effect at once and never needs a re-index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.core.clock import now_us
from accord.core.errors import PayloadTooLarge
from accord.core.settings import get_settings
from accord.correlate import matching
from accord.correlate import repository as repo
from accord.correlate.scoring import DEFAULT_THRESHOLD, base_score, current_score, is_expired, model_for
from accord.correlate.values import IndexValue, normalize, values_of
from accord.sharing.policy import Principal
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros

MAX_VALUES = 10_000
RELATED_TYPES = ("intrusion-set", "malware", "campaign", "threat-actor", "tool")
_RELIABILITY_TAG = "admiralty-scale:source-reliability="


@dataclass(slots=True)
class Context:
    """One readable object a value matched, with what the caller may know around it."""

    seq: int
    id: str
    type: str
    owner: str
    match: str
    matched_value: str
    name: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    sightings: int = 0
    score: float | None = None
    expired: bool | None = None
    related: list[dict[str, Any]] = field(default_factory=list)
    index_kind: str = ""  # the matched index row, to tell a URL's host from a plain domain or address
    index_key: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "owner": self.owner,
            "match": self.match,
            "matched_value": self.matched_value,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "sightings": self.sightings,
            "score": None if self.score is None else round(self.score, 1),
            "expired": self.expired,
            "related": self.related,
        }


def _us(ts: Any) -> int | None:
    try:
        return timestamp_to_micros(ts) if isinstance(ts, str) else None
    except ValueError:
        return None


def _reliability(obj: dict[str, Any]) -> str | None:
    for label in obj.get("labels") or ():
        if isinstance(label, str) and label.lower().startswith(_RELIABILITY_TAG):
            return label
    return None


def score_of(obj: dict[str, Any], kind: str, last_sighting_us: int | None, now: int) -> tuple[float, bool]:
    """Current decayed score and expired flag of an object for a value of `kind`."""
    confidence = obj.get("confidence")
    try:
        base = base_score(confidence if isinstance(confidence, int) else None, _reliability(obj))
    except ValueError:
        base = base_score(confidence if isinstance(confidence, int) else None, None)
    start = _us(obj.get("valid_from")) or _us(obj.get("created")) or now
    last = max(start, last_sighting_us or 0)
    score = current_score(base, last, now, model_for(kind))
    until = _us(obj.get("valid_until"))
    expired = is_expired(score, DEFAULT_THRESHOLD) or obj.get("revoked") is True
    if until is not None and until <= now and (last_sighting_us is None or last_sighting_us <= until):
        expired = True
    return score, expired


def enrich(conn: Connection, principal: Principal, contexts: Sequence[Context], kinds: dict[int, str]) -> None:
    """Fill names, first/last seen, sightings, scores and related objects of contexts (policy-filtered)."""
    if not contexts:
        return
    found = repo.details(conn, principal, sorted({c.seq for c in contexts}))
    bodies = {seq: orjson.loads(d.raw) for seq, d in found.items()}
    ids = sorted({c.id for c in contexts})
    sightings: dict[str, int] = defaultdict(int)
    last_sighting: dict[str, int] = {}
    related: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    ends: dict[str, set[str]] = defaultdict(set)
    for link in repo.links(conn, principal, ids):
        if link.kind == "ref:sighting" and link.type == "sighting":
            sightings[link.ref] += 1
            seen = _us(link.seen)
            if seen is not None and seen > last_sighting.get(link.ref, 0):
                last_sighting[link.ref] = seen
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
    now = now_us()
    for ctx in contexts:
        detail, body = found.get(ctx.seq), bodies.get(ctx.seq, {})
        ctx.name = matching.object_name(body)
        is_host = ctx.match == "exact" and ctx.index_kind in ("domain", "ip")
        if is_host and (ctx.index_kind, ctx.index_key) in matching.url_hosts(values_of(body)):
            ctx.match = "url-host"
        if detail is not None:
            ctx.first_seen = micros_to_timestamp(detail.first_seq)
            ctx.last_seen = micros_to_timestamp(max(detail.last_seq, last_sighting.get(ctx.id, 0)))
        ctx.sightings = sightings.get(ctx.id, 0)
        ctx.score, ctx.expired = score_of(body, kinds.get(ctx.seq, ""), last_sighting.get(ctx.id), now)
        ctx.related = sorted(related.get(ctx.id, {}).values(), key=lambda r: (r["type"], r["id"]))


def _distinct(matches: Iterable[repo.Match]) -> dict[int, dict[int, repo.Match]]:
    """Per tag, one answer per object version (an exact answer wins over a related one)."""
    per_tag: dict[int, dict[int, repo.Match]] = defaultdict(dict)
    for m in matches:
        prior = per_tag[m.tag].get(m.seq)
        if prior is None or (m.mode == repo.EXACT and prior.mode != repo.EXACT):
            per_tag[m.tag][m.seq] = m
    return per_tag


def lookup(conn: Connection, principal: Principal, values: Sequence[str]) -> list[dict[str, Any]]:
    """For each raw value: normalised forms, warninglist hits and readable contexts (or a widespread count)."""
    if len(values) > MAX_VALUES:
        raise PayloadTooLarge(f"at most {MAX_VALUES:,} values per lookup; got {len(values):,}")
    wl = matching.matcher()
    limit = get_settings().correlation_widespread
    forms: list[tuple[int, list[tuple[int, IndexValue, list[str]]]]] = []
    rows: list[IndexValue] = []
    for i, raw in enumerate(values):
        entry = []
        for row in normalize(None, raw) if isinstance(raw, str) else []:
            entry.append((len(rows), row, wl.hits(row.kind, row.value)))
            rows.append(row)
        forms.append((i, entry))
    lengths = repo.cidr_lengths(conn) if any(r.kind == "ip" for r in rows) else {}
    probes = [
        p
        for tag, row in enumerate(rows)
        for p in matching.probes_for(
            tag, row, lengths, related=row.kind != "domain" or not matching.is_public_suffix(row.value)
        )
    ]
    per_tag = _distinct(repo.probe(conn, principal, probes))
    hosts_by_input = {
        i: matching.url_hosts(row for _, row, _ in entry) if len(entry) > 1 else set() for i, entry in forms
    }
    contexts: list[Context] = []
    kinds: dict[int, str] = {}
    out: list[dict[str, Any]] = []
    for i, entry in forms:
        items = []
        for tag, row, hits in entry:
            item: dict[str, Any] = {"kind": row.kind, "value": row.value, "warninglists": hits}
            answers = per_tag.get(tag, {})
            objects = {m.id for m in answers.values()}
            if len(objects) > limit:
                item |= {"widespread": True, "count": len(objects)}
            else:
                found = [
                    Context(
                        m.seq,
                        m.id,
                        m.type,
                        m.owner,
                        matching.match_kind(row, m.kind, m.key, hosts_by_input[i]),
                        matching.shown(m.kind, m.key, m.value),
                        index_kind=m.kind,
                        index_key=m.key,
                    )
                    for m in sorted(answers.values(), key=lambda m: m.seq)
                ]
                contexts += found
                kinds |= {c.seq: row.kind for c in found}
                item["matches"] = found
            items.append(item)
        out.append({"input": values[i], "values": items})
    enrich(conn, principal, contexts, kinds)
    for result in out:
        for item in result["values"]:
            if "matches" in item:
                item["matches"] = [c.as_dict() for c in item["matches"]]
    return out


def indexed_values(raw: bytes) -> list[IndexValue]:
    """The index rows of a stored object body (what ingest indexed for it)."""
    return values_of(orjson.loads(raw))
