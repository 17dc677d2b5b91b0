"""Joint intelligence requirements (PIRs): what a group of organisations wants to know, and what new
intelligence matched it.

Like a case, a requirement has its own collection whose readers are the participating organisations; the
requirement is an `x-accord-pir` object of its owner. Its criteria are threat actor / intrusion set / malware
names (expanded, when written, to the aliases of the readable objects of those names), ATT&CK technique ids,
sectors, countries, keywords, domain suffixes and CIDRs.

Matching runs after every ingest that stored something (accord.store.hooks), in the writing transaction: the
active requirements are compiled once into one structure (first token -> candidate token sequences, plus the
CIDR networks), the new versions are read in one query and tokenised once each. A match is a row (requirement,
object version) and an entry in the participants' notification feeds; both are read through the sharing
policy on that version, so a participant sees only matches it may read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Row

from accord.accounts import service as accounts
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Forbidden, NotFound
from accord.jobs.repository import enqueue_job
from accord.joint import (
    objects,
    watch,  # noqa: F401  (case correlation notifications run beside the matching)
)
from accord.joint import pir_repository as pir_repo
from accord.joint import repository as repo
from accord.joint.notify import notify_users
from accord.joint.service import actor_of, member_ids, next_modified, org_ref, parse_tlp, resolve_parties, store
from accord.sharing.policy import Principal
from accord.sharing.repository import principal_for
from accord.stix.ids import ID_RE
from accord.stix.markings import Tlp
from accord.stix.timestamps import timestamp_to_micros
from accord.store import hooks

MAX_TERMS = 500  # per criterion
MAX_TERM_CHARS = 200
MAX_NOTIFIED = 20  # notification entries per requirement and ingest (the matches list holds every match)
STATUSES = ("active", "inactive")
NAMED_TYPES = ("threat-actor", "intrusion-set", "malware")

# Runs of ASCII letters and digits (and of UTF-8 bytes of other letters, kept whole), and dots and hyphens.
_TOKEN = re.compile(rb"[a-z0-9\x80-\xff]+|[.\-]")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$", re.IGNORECASE)
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# The last three octets of an IPv4 address, from the dot before the second: the search starts at a literal dot
# (rare in STIX JSON, so the regex engine skips ahead fast), and the first octet is read back from the text.
_IPV4_TAIL = re.compile(rb"\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")
_DIGITS = frozenset(b"0123456789")
# bytes.translate table of the prefilter: ASCII letters folded to lower case, letters, digits and non-ASCII bytes
# kept, everything else a space: split() then gives the tokens other than dots and hyphens, in C.
_WORDS = bytes(
    b + 32 if 65 <= b <= 90 else b if (97 <= b <= 122 or 48 <= b <= 57 or b >= 128) else 32 for b in range(256)
)
_IPV6 = re.compile(rb"[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}")
_ESCAPES = ((b"\\n", b" "), (b"\\t", b" "), (b"\\r", b" "), (b'\\"', b" "))


def tokens(text: str) -> list[str]:
    """The tokens matching works on: runs of letters and digits, and the dots and hyphens between them (only
    ASCII letters are folded to lower case)."""
    return [t.decode("utf-8", "replace") for t in _TOKEN.findall(text.encode().lower())]


def _alias(stix_id: str) -> str:
    return "pir-" + stix_id.partition("--")[2]


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{what} is a list of strings")
    out = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(out) > MAX_TERMS:
        raise BadRequest(f"at most {MAX_TERMS} {what} per requirement")
    for v in out:
        if len(v) > MAX_TERM_CHARS:
            raise BadRequest(f"{what}: {v[:40]!r}… is longer than {MAX_TERM_CHARS} characters")
    return out


def check_criteria(given: dict[str, Any]) -> dict[str, list[str]]:
    """Validated, normalised criteria; 400 naming the first bad value."""
    c = {k: _strings(given.get(k), k) for k in objects.PIR_CRITERIA}
    for t in c["techniques"]:
        if not _TECHNIQUE.match(t):
            raise BadRequest(f"technique {t!r} is not an ATT&CK technique id (e.g. T1566 or T1566.001)")
    c["techniques"] = [t.upper() for t in c["techniques"]]
    for country in c["countries"]:
        if len(country) != 2 or not country.isalpha():
            raise BadRequest(f"country {country!r} is not an ISO 3166-1 alpha-2 code (e.g. DE)")
    c["countries"] = [x.upper() for x in c["countries"]]
    domains = []
    for d in c["domains"]:
        bare = d.lower().removeprefix("*.").removeprefix(".")
        if not _DOMAIN.match(bare) or "." not in bare:
            raise BadRequest(f"domain {d!r} is not a domain suffix (e.g. evil.example)")
        domains.append(bare)
    c["domains"] = list(dict.fromkeys(domains))
    cidrs = []
    for n in c["cidrs"]:
        try:
            cidrs.append(str(ipaddress.ip_network(n, strict=False)))
        except ValueError:
            raise BadRequest(f"cidr {n!r} is not an IP network (e.g. 198.51.100.0/24)") from None
    c["cidrs"] = cidrs
    if not any(c.values()):
        raise BadRequest("a requirement needs at least one criterion")
    return c


def _aliases(conn: Connection, principal: Principal, names: list[str]) -> list[str]:
    """The names and aliases of the threat actors, intrusion sets and malware the caller may read that carry
    one of these names (as name or alias), other than the names themselves."""
    if not names:
        return []
    wanted = {n.lower() for n in names}
    found: dict[str, None] = {}
    for raw in pir_repo.readable_latest_of_types(conn, principal, NAMED_TYPES):
        body = orjson.loads(raw)
        known = [body.get("name", ""), *body.get("aliases", [])]
        if any(isinstance(k, str) and k.lower() in wanted for k in known):
            found.update((k, None) for k in known if isinstance(k, str) and k.strip() and k.lower() not in wanted)
    return sorted(found, key=str.lower)[:MAX_TERMS]


def compile_terms(criteria: dict[str, list[str]], aliases: list[str]) -> dict[str, Any]:
    """What the matcher needs of one requirement: token sequences with the criterion they stand for, and CIDRs."""
    terms: list[tuple[str, list[str]]] = []
    for kind in ("names", "techniques", "sectors", "keywords", "domains"):
        terms += [(v, tokens(v)) for v in criteria[kind]]
    terms += [(a, tokens(a)) for a in aliases]
    terms += [(c, ["country", c.lower()]) for c in criteria["countries"]]  # `"country":"DE"` of a location
    return {"terms": [[label, toks] for label, toks in terms if toks], "cidrs": criteria["cidrs"]}


@dataclass
class Matcher:
    """All active requirements compiled together."""

    first: dict[bytes, list[tuple[tuple[bytes, ...], int, str]]] = field(default_factory=dict)
    v4: dict[tuple[int, int], list[tuple[int, str]]] = field(default_factory=dict)  # (prefix, network >> bits)
    v4_prefixes: list[int] = field(default_factory=list)
    v6: list[tuple[ipaddress.IPv6Network, int, str]] = field(default_factory=list)
    punct_first: bool = False  # some sequence starts with a dot or hyphen: the word prefilter cannot see it

    @classmethod
    def build(cls, rows: Sequence[tuple[int, str]]) -> Matcher:
        m = cls()
        for pir_id, criteria in rows:
            compiled = orjson.loads(criteria)
            for label, toks in compiled["terms"]:
                seq = tuple(t.encode() for t in toks)
                m.first.setdefault(seq[0], []).append((seq, pir_id, label))
                m.punct_first = m.punct_first or seq[0] in (b".", b"-")
            for c in compiled["cidrs"]:
                net = ipaddress.ip_network(c)
                if isinstance(net, ipaddress.IPv4Network):
                    key = (net.prefixlen, int(net.network_address) >> (32 - net.prefixlen))
                    m.v4.setdefault(key, []).append((pir_id, c))
                else:
                    m.v6.append((net, pir_id, c))
        m.v4_prefixes = sorted({p for p, _ in m.v4})
        return m

    def match(self, raw: bytes) -> dict[int, str]:
        """The requirements one stored object (its raw JSON) matches, each with the criterion that matched first."""
        text = raw
        if b"\\" in text:
            for escaped, plain in _ESCAPES:
                text = text.replace(escaped, plain)
        hits: dict[int, str] = {}
        # Most objects match nothing: their words (found in C) meet no first token, and tokenising stops there.
        if self.punct_first or not self.first.keys().isdisjoint(text.translate(_WORDS).split()):
            toks = _TOKEN.findall(text.lower())
            for i, t in enumerate(toks):
                for seq, pir_id, label in self.first.get(t, ()):
                    if pir_id not in hits and tuple(toks[i : i + len(seq)]) == seq:
                        hits[pir_id] = label
        if self.v4 and _IPV4_TAIL.search(text) is not None:
            for address in _ipv4_addresses(text):
                for prefix in self.v4_prefixes:
                    for pir_id, label in self.v4.get((prefix, address >> (32 - prefix)), ()):
                        hits.setdefault(pir_id, label)
        if self.v6:
            for found in _IPV6.findall(text.lower()):
                try:
                    address6 = ipaddress.ip_address(found.decode())
                except ValueError:
                    continue
                for net, pir_id, label in self.v6:
                    if pir_id not in hits and address6.version == 6 and address6 in net:
                        hits[pir_id] = label
        return hits


def _ipv4_addresses(text: bytes) -> list[int]:
    """The IPv4 addresses written in a text (dotted quads of 1-3 digit octets up to 255), as integers."""
    found = []
    for m in _IPV4_TAIL.finditer(text):
        start = end = m.start()
        while start > 0 and end - start < 3 and text[start - 1] in _DIGITS:
            start -= 1
        if start == end or (start > 0 and text[start - 1] == 46):  # no first octet, or a fifth: "1.2.3.4.5"
            continue
        parts = (int(text[start:end]), int(m[1]), int(m[2]), int(m[3]))
        if max(parts) <= 255:
            found.append(parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3])
    return found


_compiled: tuple[tuple[tuple[int, int, int], ...], Matcher] | None = None


def active_matcher(conn: Connection) -> Matcher | None:
    """The matcher of the active requirements, compiled again only when one changed; None when there are none."""
    global _compiled
    key = tuple(pir_repo.active_pir_versions(conn))
    if not key:
        return None
    if _compiled is None or _compiled[0] != key:
        _compiled = (key, Matcher.build(pir_repo.active_pir_criteria(conn)))
    return _compiled[1]


def match_stored(conn: Connection, seqs: Sequence[int]) -> None:
    """After-store callback: record and announce what the new versions matched."""
    matcher = active_matcher(conn)
    if matcher is None:
        return
    found: list[tuple[int, int, str]] = []
    match = matcher.match
    for seq, raw in pir_repo.versions_to_match(conn, seqs, skip_type=objects.PIR_TYPE):
        hits = match(raw)
        if hits:
            found.extend((pir_id, seq, label) for pir_id, label in hits.items())
    if not found:
        return
    added = pir_repo.insert_matches(conn, found, now_us())
    if added:
        _announce(conn, added)


def participant_org_ids(conn: Connection, body: dict[str, Any]) -> frozenset[int]:
    """A requirement's participating organisations: those named and the current members of its groups."""
    return member_ids(conn, body)


def _announce(conn: Connection, added: list[tuple[int, int, str]]) -> None:
    by_pir: dict[int, list[tuple[int, str]]] = {}
    for pir_id, seq, label in added:
        by_pir.setdefault(pir_id, []).append((seq, label))
    for row in pir_repo.pirs_by_ids(conn, list(by_pir)):
        body = orjson.loads(repo.raw_version(conn, row.seq))
        users = repo.user_ids_of_orgs(conn, sorted(participant_org_ids(conn, body)))
        for seq, label in by_pir[row.id][:MAX_NOTIFIED]:
            summary = f"new intelligence matches requirement {row.title!r} ({label})"
            notify_users(conn, users, seq=seq, kind="pir.match", subject=row.stix_id, summary=summary)


hooks.register("joint.pir", match_stored)

BACKFILL_JOB = "pir.backfill"
BACKFILL_CHUNK = 2_000  # stored versions matched per job run (each run queues the next)


def queue_backfill(conn: Connection, pir_pk: int, seq: int) -> None:
    """Match what is already stored against a requirement's version `seq`, in the background (job queue)."""
    enqueue_job(conn, BACKFILL_JOB, orjson.dumps({"pir": pir_pk, "seq": seq, "before": None, "notified": 0}))


def run_backfill(conn: Connection, job_payload: bytes) -> None:
    """Job handler: match one chunk of the newest stored versions that a participant may read, newest first,
    against one requirement (as it was at the version that queued it: a later change queues its own); record the
    matches not yet recorded and notify (at most MAX_NOTIFIED entries per backfill); queue the next chunk."""
    task = orjson.loads(job_payload)
    pirs = pir_repo.pirs_by_ids(conn, [task["pir"]])
    row = pirs[0] if pirs else None
    if row is None or row.seq != task["seq"] or row.status != "active":
        return
    body = orjson.loads(repo.raw_version(conn, row.seq))
    members = [row.owner_org_id, *participant_org_ids(conn, body)]
    principals = [principal_for(conn, org_id=o, role="reader") for o in dict.fromkeys(members)]
    matcher = Matcher.build([(row.id, row.criteria)])
    chunk = pir_repo.latest_readable_by_any(
        conn, principals, before_seq=task["before"], limit=BACKFILL_CHUNK, skip_type=objects.PIR_TYPE
    )
    found = [(row.id, seq, label) for seq, raw in chunk for label in matcher.match(raw).values()]
    known = pir_repo.matched_seqs(conn, row.id, [seq for _, seq, _ in found])
    added = pir_repo.insert_matches(conn, [f for f in found if f[1] not in known], now_us())
    left = MAX_NOTIFIED - task["notified"]
    if added and left > 0:
        _announce(conn, added[:left])
    if len(chunk) == BACKFILL_CHUNK:
        task.update(before=chunk[-1][0], notified=task["notified"] + min(len(added), max(left, 0)))
        enqueue_job(conn, BACKFILL_JOB, orjson.dumps(task))


def create_pir(
    conn: Connection,
    principal: Principal,
    *,
    title: str,
    description: str = "",
    participants: list[str] | None = None,
    tlp: str = "amber",
    criteria: dict[str, Any],
) -> dict[str, Any]:
    """A new active requirement owned by the caller's organisation, shared with the participants."""
    if not title.strip():
        raise BadRequest("a requirement needs a title")
    level = parse_tlp(tlp)
    crit = check_criteria(criteria)
    rows, groups = resolve_parties(conn, participants or [], remote=True)  # partners on other nodes too
    member_refs = {principal.org_id: org_ref(conn, principal.org_id)} | {r.id: r.stix_id for r in rows}
    names = list(repo.org_names(conn, member_refs).values())
    stix_id = objects.new_id(objects.PIR_TYPE)
    coll = accounts.create_collection(
        conn,
        f"Requirement: {title.strip()[:200]}",
        _alias(stix_id),
        readers=[*names, *groups],
        writers=[*names, *groups],
        description=f"The shared collection of requirement {stix_id}",
        actor=actor_of(principal),
    )
    aliases = _aliases(conn, principal, crit["names"])
    at = now_us()
    ts = objects.timestamp(at)
    fields: dict[str, Any] = {
        "name": title.strip(),
        "description": description,
        "participant_refs": list(member_refs.values()),
        "participant_groups": groups,
        "status": "active",
        "tlp": int(level),
        "aliases": aliases,
        **crit,
    }
    body = objects.pir_object(
        stix_id=stix_id, owner_ref=member_refs[principal.org_id], created=ts, modified=ts, fields=fields
    )
    (seq,) = store(conn, principal, coll.id, [body])
    row = {
        "stix_id": stix_id,
        "collection_id": coll.id,
        "owner_org_id": principal.org_id,
        "seq": seq,
        "status": "active",
        "title": fields["name"][:300],
        "criteria": orjson.dumps(compile_terms(crit, aliases)).decode(),
        "created_us": at,
        "updated_us": at,
        "created_by": principal.email or "",
    }
    pir_pk = pir_repo.insert_pir(conn, row)
    queue_backfill(conn, pir_pk, seq)
    record(conn, actor_of(principal), "pir.create", stix_id, participants=[*names[1:], *groups], aliases=len(aliases))
    return get_pir(conn, principal, stix_id)


def _readable(conn: Connection, principal: Principal, pir_id: str) -> tuple[Row[Any], dict[str, Any]]:
    row = pir_repo.readable_pir(conn, principal, pir_id) if ID_RE.match(pir_id) else None
    if row is None:
        raise NotFound(f"no requirement {pir_id}")
    return row, orjson.loads(repo.raw_version(conn, row.seq))


def _view(conn: Connection, row: Row[Any], body: dict[str, Any], matches: int) -> dict[str, Any]:
    members = participant_org_ids(conn, body)
    names = repo.org_names(conn, [row.owner_org_id, *members])
    return {
        "id": row.stix_id,
        "title": body["name"],
        "description": body.get("description", ""),
        "owner": names.get(row.owner_org_id, ""),
        "participants": sorted(names[o] for o in members),
        "groups": body.get("participant_groups", []),
        "status": row.status,
        "tlp": Tlp.parse(_tlp_label(body)).label,
        "criteria": {k: body.get(k, []) for k in objects.PIR_CRITERIA},
        "aliases": body.get("aliases", []),
        "version": body["modified"],
        "created": objects.timestamp(row.created_us),
        "matches": matches,
    }


def _tlp_label(body: dict[str, Any]) -> str:
    for level in objects.CASE_TLPS:
        if objects.marking_refs(level) == body.get("object_marking_refs"):
            return level.label
    return "amber"


def get_pir(conn: Connection, principal: Principal, pir_id: str) -> dict[str, Any]:
    """A requirement and how many matches of it the caller may read."""
    row, body = _readable(conn, principal, pir_id)
    return _view(conn, row, body, pir_repo.count_matches(conn, principal, row.id))


def list_pirs(
    conn: Connection, principal: Principal, *, before_id: int | None, limit: int, status: str | None = None
) -> list[dict[str, Any]]:
    """Readable requirements (owned by or shared with the caller's organisation), newest first; `_key` the keyset."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status is one of {', '.join(STATUSES)}")
    return [
        {
            "_key": r.id,
            "id": r.stix_id,
            "title": r.title,
            "owner": r.owner,
            "status": r.status,
            "created": objects.timestamp(r.created_us),
        }
        for r in pir_repo.list_pirs(conn, principal, before_id=before_id, limit=limit, status=status)
    ]


def update_pir(
    conn: Connection,
    principal: Principal,
    pir_id: str,
    *,
    title: str | None = None,
    description: str | None = None,
    status: str | None = None,
    criteria: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change a requirement (its owning organisation only): a new version; criteria given replace the old ones."""
    row, body = _readable(conn, principal, pir_id)
    if row.owner_org_id != principal.org_id:
        raise Forbidden("only the owning organisation changes a requirement")
    if title is not None and not title.strip():
        raise BadRequest("a requirement needs a title")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status is one of {', '.join(STATUSES)}")
    crit = check_criteria(criteria) if criteria is not None else {k: body.get(k, []) for k in objects.PIR_CRITERIA}
    aliases = _aliases(conn, principal, crit["names"]) if criteria is not None else body.get("aliases", [])
    fields: dict[str, Any] = {
        "name": title.strip() if title is not None else body["name"],
        "description": description if description is not None else body.get("description", ""),
        "participant_refs": body["participant_refs"],
        "participant_groups": body.get("participant_groups", []),
        "status": status or row.status,
        "tlp": int(Tlp.parse(_tlp_label(body))),
        "aliases": aliases,
        **crit,
    }
    modified = next_modified(body["modified"])
    new = objects.pir_object(
        stix_id=row.stix_id, owner_ref=body["created_by_ref"], created=body["created"], modified=modified, fields=fields
    )
    (seq,) = store(conn, principal, row.collection_id, [new])
    pir_repo.update_pir(
        conn,
        row.id,
        seq=seq,
        status=fields["status"],
        title=fields["name"][:300],
        criteria=orjson.dumps(compile_terms(crit, aliases)).decode(),
        updated_us=now_us(),
    )
    if fields["status"] == "active" and (criteria is not None or row.status != "active"):
        queue_backfill(conn, row.id, seq)
    changed = [k for k, v in (("title", title), ("description", description), ("status", status)) if v is not None]
    record(conn, actor_of(principal), "pir.update", pir_id, changed=[*changed, *(["criteria"] if criteria else [])])
    return get_pir(conn, principal, pir_id)


def matches(
    conn: Connection, principal: Principal, pir_id: str, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """What matched a requirement, newest first, only the versions the caller may read; `_key` the keyset."""
    row, _ = _readable(conn, principal, pir_id)
    out = []
    for m in pir_repo.readable_matches(conn, principal, row.id, before_id=before_id, limit=limit):
        obj = orjson.loads(m.raw)
        out.append(
            {
                "_key": m.id,
                "object_id": m.object_id,
                "type": m.type,
                "version": m.version,
                "name": obj.get("name", ""),
                "matched": m.matched,
                "at": objects.timestamp(m.at_us),
            }
        )
    return out


def project_pir(conn: Connection, v: Any, body: dict[str, Any]) -> None:
    """A received version of a requirement (accord.joint.projection): matched here like a local one from the
    newest of its owner's versions; an older version arriving late changes nothing."""
    if not isinstance(body.get("name"), str) or body.get("status") not in STATUSES:
        return  # not a requirement this node can show; it stays stored and readable as STIX content
    try:  # what another node wrote passes the checks a local requirement passes: the matcher trusts them
        crit = check_criteria({k: body.get(k) for k in objects.PIR_CRITERIA})
        aliases = _strings(body.get("aliases"), "aliases")
    except BadRequest:
        return
    at = timestamp_to_micros(v.version)
    values = {
        "seq": v.seq,
        "status": body["status"],
        "title": body["name"][:300],
        "criteria": orjson.dumps(compile_terms(crit, aliases)).decode(),
        "updated_us": at,
    }
    row = pir_repo.pir_by_stix_id(conn, body["id"])
    if row is None:
        collection_id = repo.collection_of_version(conn, v.seq)
        if collection_id is None:
            return
        created = timestamp_to_micros(body.get("created", v.version))
        row_id = pir_repo.insert_pir(
            conn,
            {"stix_id": body["id"], "collection_id": collection_id, "owner_org_id": v.owner_org_id,
             "created_us": created, "created_by": "", **values},
        )  # fmt: skip
    elif v.owner_org_id != row.owner_org_id or at <= timestamp_to_micros(repo.version_of(conn, row.seq)):
        return  # only the owner's versions change a requirement (W2), and only a newer one
    else:
        row_id = row.id
        pir_repo.update_pir(conn, row_id, **values)
    if body["status"] == "active":
        queue_backfill(conn, row_id, v.seq)
