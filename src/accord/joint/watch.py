"""Partner content correlating with my cases: when new content (local or from a partner) carries a value that
an object linked in a case carries, or one related to it (an address inside a linked CIDR or a CIDR holding a
linked address; a subdomain or a parent domain of a linked domain), the case's participants are told
(`case.correlation` notifications).

Runs after every ingest that stored something (accord.store.hooks), in the writing transaction, beside PIR
matching. One query per run of new seqs joins their correlating value-index rows (exact kind and key: the value
index the store has just filled) to the newest versions of linked objects (joint_link by object key), bounded
to MAX_HITS rows; nothing more is read when no case links anything. Through the policy: a participant
organisation's users are told only when the organisation may read both the new version and the linked object
(and the entry, like every notification, shows only while its user may read the new version). The
organisation that owns the new version is not told about its own content.

Related values use the correlation engine's probes (accord.correlate.matching.probe_keys, as lookups do), answered
in memory by the recorded ip and domain values of linked objects (joint_case_value): only when some are
recorded are the new versions' ip and domain rows read.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

from accord.correlate import matching
from accord.joint import repository as repo
from accord.joint.notify import notify_users
from accord.joint.service import member_ids
from accord.sharing.repository import principal_for
from accord.store import hooks

MAX_HITS = 1_000  # (case, new version, linked object) rows read per ingest
MAX_NOTIFIED = 20  # notification entries per case and ingest


def watch_stored(conn: Connection, seqs: Sequence[int]) -> None:
    """After-store callback: tell the participants of cases that link objects sharing a value with new content."""
    if not repo.any_links(conn):
        return
    by_case: dict[int, dict[int, tuple[int, str, int]]] = {}  # case -> new seq -> (linked seq, value, owner)
    for h in repo.case_value_hits(conn, seqs, limit=MAX_HITS):
        by_case.setdefault(h.case_id, {}).setdefault(h.seq, (h.linked_seq, str(h.value), h.owner_org_id))
    for case_id, seq, linked_seq, value, owner in _related_hits(conn, seqs):
        by_case.setdefault(case_id, {}).setdefault(seq, (linked_seq, value, owner))
    if not by_case:
        return
    involved = {s for found in by_case.values() for seq, (linked, _, _) in found.items() for s in (seq, linked)}
    readable: dict[int, set[int]] = {}  # organisation -> the versions involved that it may read
    for case in repo.cases_by_ids(conn, list(by_case)):
        body = orjson.loads(repo.raw_version(conn, case.seq))
        for org_id in sorted(member_ids(conn, body) | {case.owner_org_id}):
            users = repo.user_ids_of_orgs(conn, [org_id])
            if not users:
                continue
            if org_id not in readable:
                reader = principal_for(conn, org_id=org_id, role="reader")
                readable[org_id] = repo.readable_seqs(conn, reader, involved)
            told = [
                (seq, value)
                for seq, (linked, value, owner) in by_case[case.id].items()
                if owner != org_id and seq in readable[org_id] and linked in readable[org_id]
            ]
            for seq, value in told[:MAX_NOTIFIED]:
                summary = f"new content shares {value} with case {case.title!r}"
                notify_users(conn, users, seq=seq, kind="case.correlation", subject=case.stix_id, summary=summary)


def _related_hits(conn: Connection, seqs: Sequence[int]) -> list[tuple[int, int, int, str, int]]:
    """(case, new seq, linked object's newest version, what matched, owner of the new version) where a new ip or
    domain value is related, other than by being equal, to a value recorded for an object linked in a case,
    whose newest version still holds it; at most MAX_HITS. No policy yet: the caller checks both versions."""
    recorded = repo.recorded_ranged_values(conn)
    if not recorded:
        return []
    rows = []
    linked_by: dict[tuple[str, str], list[tuple[int, str]]] = {}  # (kind, key) -> [(case, linked object id)]
    for r in recorded:
        row = matching.recorded_value(r.kind, r.key)
        if row is not None and matching.correlatable(row):
            rows.append(row)
            linked_by.setdefault((r.kind, r.key), []).append((r.case_id, r.object_id))
    if not rows:
        return []
    held = matching.HeldValues(rows)
    wl = matching.matcher()
    benign: dict[tuple[str, str], bool] = {}  # warninglists, asked only of the values that matched (both sides)
    found: dict[tuple[int, int, str], tuple[str, str, str]] = {}  # (case, seq, linked id) -> kind, key, summary
    owners: dict[int, int] = {}
    for new in repo.new_ranged_values(conn, seqs):
        row = matching.recorded_value(new.kind, new.key)
        if row is None or not matching.correlatable(row):
            continue
        for linked, how in held.related(row):
            for value in (row, linked):
                if (value.kind, value.value) not in benign:
                    benign[(value.kind, value.value)] = bool(wl.hits(value.kind, value.value))
            if benign[(row.kind, row.value)] or benign[(linked.kind, linked.value)]:
                continue
            for case_id, object_id in linked_by.get((linked.kind, linked.key), ()):
                if object_id == new.object_id:
                    continue
                text = f"{row.value} ({how} of {linked.value})"
                found.setdefault((case_id, new.seq, object_id), (linked.kind, linked.key, text))
                owners[new.seq] = new.owner_org_id
        if len(found) >= MAX_HITS:
            break
    holding = repo.latest_holding(conn, {(oid, kind, key) for (_, _, oid), (kind, key, _) in found.items()})
    return [
        (case_id, seq, linked_seq, text, owners[seq])
        for (case_id, seq, oid), (kind, key, text) in sorted(found.items())
        for linked_seq in holding.get((oid, kind, key), ())
        if linked_seq != seq
    ][:MAX_HITS]


hooks.register("joint.watch", watch_stored)
