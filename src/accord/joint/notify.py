"""Notifications: each user's feed of what concerns them (tasks assigned to them, comments on cases they
opened or are assigned to, answers to their requests). Entries are read through the sharing policy: an entry
whose version the user may no longer read is not shown."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from accord.accounts import service as accounts
from accord.core.clock import now_us
from accord.core.errors import BadRequest
from accord.joint.objects import timestamp
from accord.models.joint import joint_notification
from accord.models.objects import stix_object
from accord.sharing.policy import Principal, readable_clause

MAX_MARK = 1000


def notify(conn: Connection, emails: list[str], *, actor: str, seq: int, kind: str, subject: str, summary: str) -> int:
    """Add an entry to the feed of each of these users (not the one who acted); how many were added."""
    wanted = [e for e in dict.fromkeys(emails) if e and e != actor]
    users = [u for u in (accounts.get_user_by_email(conn, e) for e in wanted) if u is not None]
    return notify_users(conn, [u.id for u in users], seq=seq, kind=kind, subject=subject, summary=summary)


def notify_users(conn: Connection, user_ids: list[int], *, seq: int, kind: str, subject: str, summary: str) -> int:
    """Add an entry to the feed of each of these users (by id), in one insert; how many were added."""
    at = now_us()
    rows = [
        {
            "public_id": str(uuid.uuid4()),
            "user_id": u,
            "seq": seq,
            "kind": kind,
            "subject": subject,
            "summary": summary[:500],
            "at_us": at,
            "read_us": None,
        }
        for u in dict.fromkeys(user_ids)
    ]
    if rows:
        # Here, not at the top: webhooks (and the key store that decrypts their secrets) load only once something
        # is notified, not in every command that stores intelligence (notify is imported by the after-store hooks).
        from accord.joint import webhooks

        conn.execute(insert(joint_notification), rows)
        webhooks.enqueue(conn, list(dict.fromkeys(user_ids)), [str(r["public_id"]) for r in rows])
    return len(rows)


def _mine(principal: Principal) -> list[Any]:
    n = joint_notification.c
    version = stix_object.alias("v")
    readable = select(version.c.seq).where(version.c.seq == n.seq, readable_clause(principal, version)).exists()
    return [n.user_id == principal.user_id, readable]


def feed(
    conn: Connection, principal: Principal, *, unread_only: bool, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """The caller's notifications, newest first; `_key` is the keyset."""
    if principal.user_id is None:
        return []
    n = joint_notification.c
    stmt = select(joint_notification).where(*_mine(principal))
    if unread_only:
        stmt = stmt.where(n.read_us.is_(None))
    if before_id is not None:
        stmt = stmt.where(n.id < before_id)
    return [
        {
            "_key": r.id,
            "id": r.public_id,
            "kind": r.kind,
            "subject": r.subject,
            "summary": r.summary,
            "at": timestamp(r.at_us),
            "read": r.read_us is not None,
        }
        for r in conn.execute(stmt.order_by(n.id.desc()).limit(limit))
    ]


def unread_count(conn: Connection, principal: Principal) -> int:
    """How many of the caller's notifications are unread."""
    if principal.user_id is None:
        return 0
    stmt = select(func.count()).where(*_mine(principal), joint_notification.c.read_us.is_(None))
    return int(conn.execute(stmt).scalar_one())


def mark_read(conn: Connection, principal: Principal, ids: list[str] | None, *, read: bool = True) -> int:
    """Mark the caller's notifications (these ids, or all with None) read or unread; how many changed."""
    if principal.user_id is None:
        return 0
    if ids is not None and len(ids) > MAX_MARK:
        raise BadRequest(f"at most {MAX_MARK} ids per call")
    n = joint_notification.c
    stmt = update(joint_notification).where(*_mine(principal))
    if ids is not None:
        stmt = stmt.where(n.public_id.in_(ids))
    stmt = stmt.where(n.read_us.is_(None) if read else n.read_us.is_not(None))
    return int(conn.execute(stmt.values(read_us=now_us() if read else None)).rowcount)
