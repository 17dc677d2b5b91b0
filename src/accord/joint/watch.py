"""Partner content correlating with my cases: when new content (local or from a partner) carries a value that
an object linked in a case carries, the case's participants are told (`case.correlation` notifications).

Runs after every ingest that stored something (accord.store.hooks), in the writing transaction, beside PIR
matching. One query per run of new seqs joins their correlating value-index rows (exact kind and key: the value
index the store has just filled) to the newest versions of linked objects (joint_link by object key), bounded
to MAX_HITS rows; nothing more is read when no case links anything. Through the policy: a participant
organisation's users are told only when the organisation may read both the new version and the linked object
(and the entry, like every notification, shows only while its user may read the new version). The
organisation that owns the new version is not told about its own content.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy import Connection

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
    hits = repo.case_value_hits(conn, seqs, limit=MAX_HITS)
    if not hits:
        return
    by_case: dict[int, dict[int, tuple[int, str, int]]] = {}  # case -> new seq -> (linked seq, value, owner)
    for h in hits:
        by_case.setdefault(h.case_id, {}).setdefault(h.seq, (h.linked_seq, str(h.value), h.owner_org_id))
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


hooks.register("joint.watch", watch_stored)
