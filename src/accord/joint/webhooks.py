"""Outgoing webhooks: each notification for a user of an organisation is POSTed to the URLs that organisation
registered, as JSON signed with HMAC-SHA256 (the secret stored encrypted with the node key).

A notification entry makes one delivery per webhook of the user's organisation, run by the job queue
(`accord worker`): a delivery is sent only while the user may still read the version the entry is about (the
same policy check as the feed, made when it is sent; otherwise it is `withheld` and nothing leaves the node),
through the outbound address guard (loopback, private and link-local addresses are refused unless
`webhooks_allow_private`), retried with doubling waits on a failure or a non-2xx answer, and `dead` after
`webhook_max_attempts`. Redirects are not followed (a 3xx is a failure).

Signature: `X-Accord-Webhook-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>` with the
`X-Accord-Webhook-Timestamp` (Unix seconds) it covers; receivers refuse old timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Connection, and_, func, insert, select, update

from accord.accounts import service as accounts
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, NotFound
from accord.core.keys import decrypt_secret, encrypt_secret
from accord.core.settings import get_settings
from accord.jobs.repository import enqueue_job
from accord.joint.objects import timestamp
from accord.models.accounts import app_user, org
from accord.models.joint import joint_notification
from accord.models.objects import stix_object
from accord.models.webhooks import webhook, webhook_delivery
from accord.sharing.policy import Principal, readable_clause

DELIVER_JOB = "webhook.deliver"
SIGNATURE_HEADER = "X-Accord-Webhook-Signature"
TIMESTAMP_HEADER = "X-Accord-Webhook-Timestamp"
DELIVERY_HEADER = "X-Accord-Webhook-Delivery"
MAX_PER_ORG = 20
MIN_SECRET = 16
STATUSES = ("pending", "delivered", "dead", "withheld")


def sign(secret: str, stamp: str, body: bytes) -> str:
    """The signature header value of a body sent at `stamp` (Unix seconds, as sent)."""
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, stamp: str, body: bytes, signature: str, *, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is within `tolerance` seconds of now."""
    try:
        fresh = abs(time.time() - int(stamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, stamp, body), signature)


# --------------------------------------------------------------------------------------------- registration


def _check_target(url: str) -> str:
    from accord.remote.http import RemoteError, check_url, is_public  # httpx loads only where webhooks are used

    try:
        url = check_url(url)
    except RemoteError as exc:
        raise BadRequest(exc.message) from None
    if len(url) > 2000:
        raise BadRequest("a webhook URL is at most 2000 characters")
    host = urlsplit(url).hostname or ""
    try:
        literal = is_public(host)
    except ValueError:
        literal = True  # a host name: the guard checks each address it resolves to when delivering
    if not literal and not get_settings().webhooks_allow_private:
        raise BadRequest(f"refusing a webhook to the non-public address {host} (webhooks_allow_private is off)")
    return url


def add_webhook(
    conn: Connection, org_name: str, url: str, *, secret: str | None = None, actor: str = "cli"
) -> dict[str, Any]:
    """Register a URL for an organisation's notifications; the answer carries the secret (shown once)."""
    row = accounts.get_org_by_name_or_raise(conn, org_name)
    if row.is_remote:
        raise BadRequest("name an organisation of this node")
    target = _check_target(url)
    if secret is None:
        secret = secrets.token_urlsafe(32)
    elif len(secret) < MIN_SECRET:
        raise BadRequest(f"a webhook secret has at least {MIN_SECRET} characters")
    count = conn.execute(select(func.count()).where(webhook.c.org_id == row.id)).scalar_one()
    if count >= MAX_PER_ORG:
        raise BadRequest(f"an organisation has at most {MAX_PER_ORG} webhooks")
    public_id = str(uuid.uuid4())
    values = {
        "public_id": public_id,
        "org_id": row.id,
        "url": target,
        "secret": encrypt_secret(secret),
        "created_us": now_us(),
        "created_by": actor,
    }
    conn.execute(insert(webhook).values(**values))
    record(conn, actor, "webhook.add", public_id, org=row.name, url=target)
    return {**get_webhook(conn, public_id), "secret": secret}


def _counts(conn: Connection, webhook_ids: list[int]) -> dict[int, dict[str, int]]:
    d = webhook_delivery.c
    out: dict[int, dict[str, int]] = {w: dict.fromkeys(STATUSES, 0) for w in webhook_ids}
    if webhook_ids:
        stmt = (
            select(d.webhook_id, d.status, func.count())
            .where(d.webhook_id.in_(webhook_ids))
            .group_by(d.webhook_id, d.status)
        )
        for w, status, n in conn.execute(stmt):
            out[w][status] = int(n)
    return out


def _rows(conn: Connection, *where: Any) -> list[dict[str, Any]]:
    stmt = select(webhook, org.c.name.label("org")).join(org, org.c.id == webhook.c.org_id).where(*where)
    rows = conn.execute(stmt.order_by(webhook.c.id)).all()
    counts = _counts(conn, [r.id for r in rows])
    last = _last_errors(conn, [r.id for r in rows])
    return [
        {
            "id": r.public_id,
            "org": r.org,
            "url": r.url,
            "created": timestamp(r.created_us),
            "created_by": r.created_by,
            "deliveries": counts[r.id],
            "last_error": last.get(r.id),
        }
        for r in rows
    ]


def _last_errors(conn: Connection, webhook_ids: list[int]) -> dict[int, str]:
    if not webhook_ids:
        return {}
    d = webhook_delivery.c
    newest = (
        select(func.max(d.id))
        .where(d.webhook_id.in_(webhook_ids), d.last_error.is_not(None))
        .group_by(d.webhook_id)
        .scalar_subquery()
    )
    return {int(w): str(e) for w, e in conn.execute(select(d.webhook_id, d.last_error).where(d.id.in_(newest)))}


def list_webhooks(conn: Connection, org_name: str | None = None) -> list[dict[str, Any]]:
    """The registered webhooks (of one organisation), with counts of their deliveries by status."""
    if org_name is None:
        return _rows(conn)
    return _rows(conn, webhook.c.org_id == accounts.get_org_by_name_or_raise(conn, org_name).id)


def get_webhook(conn: Connection, public_id: str) -> dict[str, Any]:
    """One webhook (without its secret)."""
    found = _rows(conn, webhook.c.public_id == public_id)
    if not found:
        raise NotFound(f"no webhook {public_id}")
    return found[0]


def remove_webhook(conn: Connection, public_id: str, *, actor: str = "cli") -> None:
    """Stop sending to a webhook; its pending deliveries go with it."""
    got = get_webhook(conn, public_id)
    conn.execute(webhook.delete().where(webhook.c.public_id == public_id))
    record(conn, actor, "webhook.remove", public_id, org=got["org"], url=got["url"])


# ------------------------------------------------------------------------------------------------- delivery


def enqueue(conn: Connection, user_ids: list[int], public_ids: list[str]) -> int:
    """Queue a delivery of these new notification entries (by public id) to each webhook of their users'
    organisations; how many were queued. Costs one query when no such organisation has a webhook."""
    targets = conn.execute(
        select(app_user.c.id, webhook.c.id)
        .join(webhook, webhook.c.org_id == app_user.c.org_id)
        .where(app_user.c.id.in_(user_ids))
    ).all()
    if not targets:
        return 0
    by_user: dict[int, list[int]] = {}
    for user_id, webhook_id in targets:
        by_user.setdefault(user_id, []).append(webhook_id)
    n = joint_notification.c
    entries = conn.execute(select(n.id, n.user_id).where(n.public_id.in_(public_ids))).all()
    at = now_us()
    rows = [
        {
            "public_id": str(uuid.uuid4()),
            "webhook_id": w,
            "notification_id": entry.id,
            "status": "pending",
            "attempts": 0,
            "created_us": at,
            "updated_us": at,
        }
        for entry in entries
        for w in by_user.get(entry.user_id, [])
    ]
    if rows:
        conn.execute(insert(webhook_delivery), rows)
        d = webhook_delivery.c
        ids = conn.execute(select(d.id).where(d.public_id.in_([r["public_id"] for r in rows]))).scalars()
        for delivery_id in ids:
            enqueue_job(conn, DELIVER_JOB, str(delivery_id).encode())
    return len(rows)


def _user_principal(conn: Connection, user_id: int) -> Principal | None:
    user = conn.execute(select(app_user.c.email, app_user.c.disabled).where(app_user.c.id == user_id)).first()
    if user is None or user.disabled:
        return None
    return accounts.principal_for_email(conn, user.email)


def payload(conn: Connection, delivery_id: int) -> tuple[Any, bytes] | None:
    """The webhook row and the JSON body of a delivery; None when the entry's user may not (or no longer) read
    the version it is about, or is gone."""
    d, n = webhook_delivery.c, joint_notification.c
    found = conn.execute(
        select(webhook_delivery.c.public_id.label("delivery"), joint_notification, webhook.c.url, webhook.c.secret)
        .join(joint_notification, n.id == d.notification_id)
        .join(webhook, webhook.c.id == d.webhook_id)
        .where(d.id == delivery_id)
    ).first()
    if found is None:
        return None
    principal = _user_principal(conn, found.user_id)
    if principal is None:
        return None
    v = stix_object.alias("v")
    version = conn.execute(
        select(v.c.id, v.c.type, v.c.version).where(v.c.seq == found.seq, readable_clause(principal, v))
    ).first()
    if version is None:
        return None
    body = {
        "delivery": found.delivery,
        "notification": {
            "id": found.public_id,
            "kind": found.kind,
            "subject": found.subject,
            "summary": found.summary,
            "at": timestamp(found.at_us),
            "user": principal.email,
        },
        "object": {"id": version.id, "type": version.type, "version": version.version},
    }
    return found, orjson.dumps(body)


def _post(url: str, secret: str, delivery: str, body: bytes) -> int:
    from accord.remote.http import guarded_client

    settings = get_settings()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "accord-webhooks/0.1",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
        DELIVERY_HEADER: delivery,
    }
    with guarded_client(allow_private=settings.webhooks_allow_private, timeout=settings.webhook_timeout_seconds) as c:
        return c.post(url, content=body, headers=headers).status_code


def run_delivery(conn: Connection, job_payload: bytes) -> None:
    """Job handler: send one delivery; on failure record it and queue the next attempt (or give up: dead)."""
    import httpx

    from accord.remote.http import AddressRefused, RemoteError

    delivery_id = int(job_payload)
    d = webhook_delivery.c
    row = conn.execute(select(d.status, d.attempts).where(d.id == delivery_id)).first()
    if row is None or row.status != "pending":
        return  # the webhook was removed, or this attempt already ran
    settings = get_settings()
    attempts = row.attempts + 1
    got = payload(conn, delivery_id)
    if got is None:
        _set(conn, delivery_id, status="withheld", attempts=attempts, last_error=None, last_status=None)
        return
    target, body = got
    status: int | None = None
    refused = False
    try:
        status = _post(target.url, decrypt_secret(target.secret), target.delivery, body)
        error = None if 200 <= status < 300 else f"the receiver answered HTTP {status}"
    except AddressRefused as exc:  # a refused address stays refused: no retry
        error, refused = exc.message, True
    except (httpx.HTTPError, RemoteError, OSError) as exc:
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
    if error is None:
        _set(conn, delivery_id, status="delivered", attempts=attempts, last_status=status, last_error=None)
    elif attempts >= settings.webhook_max_attempts or refused:
        _set(conn, delivery_id, status="dead", attempts=attempts, last_status=status, last_error=error)
    else:
        _set(conn, delivery_id, status="pending", attempts=attempts, last_status=status, last_error=error)
        wait = settings.webhook_retry_seconds * 2 ** (attempts - 1)
        enqueue_job(conn, DELIVER_JOB, job_payload, run_after_us=now_us() + int(wait * 1_000_000))


def _set(conn: Connection, delivery_id: int, **values: Any) -> None:
    conn.execute(
        update(webhook_delivery).where(webhook_delivery.c.id == delivery_id).values(updated_us=now_us(), **values)
    )


def deliveries(conn: Connection, public_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """A webhook's newest deliveries (status, attempts, the receiver's last answer or the error)."""
    hook = conn.execute(select(webhook.c.id).where(webhook.c.public_id == public_id)).scalar()
    if hook is None:
        raise NotFound(f"no webhook {public_id}")
    d, n = webhook_delivery.c, joint_notification.c
    stmt = (
        select(d.public_id, d.status, d.attempts, d.last_status, d.last_error, d.updated_us, n.kind)
        .join(joint_notification, and_(n.id == d.notification_id))
        .where(d.webhook_id == hook)
        .order_by(d.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": r.public_id,
            "kind": r.kind,
            "status": r.status,
            "attempts": r.attempts,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "updated": timestamp(r.updated_us),
        }
        for r in conn.execute(stmt)
    ]
