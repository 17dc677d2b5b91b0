"""Authentication: verifying presented credentials, sign-in throttling and the node's credentials generation."""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import Connection

from accord.accounts import repository as repo
from accord.accounts import security
from accord.accounts.credentials import Credentials, credential_cache
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import NotFound, TooManyRequests
from accord.core.settings import get_settings
from accord.sharing.policy import Principal
from accord.sharing.repository import principal_for

__all__ = [
    "authenticate",
    "credentials_generation",
    "forget_credentials",
    "principal_for_email",
    "recall_principal",
    "record_login_failure",
]

credentials_generation = repo.credentials_generation


def sign_in_delay(failures: int) -> float:
    """Seconds a sign-in waits after this many recent failures of one account from one address: none for the
    first login_max_failures, then login_delay_seconds doubling with each further failure, up to the maximum."""
    s = get_settings()
    beyond = failures - s.login_max_failures
    if beyond < 0:
        return 0.0
    return float(min(s.login_max_delay_seconds, s.login_delay_seconds * 2 ** min(beyond, 40)))


def _throttled_for(conn: Connection, subject: str, now: int) -> float:
    """Seconds the subject must still wait (0 when it may try)."""
    count, last = repo.failures_since(conn, subject, now - get_settings().login_window_seconds * 1_000_000)
    if last is None:
        return 0.0
    return max(0.0, last / 1e6 + sign_in_delay(count) - now / 1e6)


def _throttle_check(conn: Connection, creds: Credentials) -> None:
    """TooManyRequests (with Retry-After) while this account is delayed from this address."""
    now = now_us()
    for subject in creds.subjects():
        wait = _throttled_for(conn, subject, now)
        if wait > 0:
            raise TooManyRequests("too many failed sign-ins for this account from this address", math.ceil(wait))


def record_login_failure(conn: Connection, creds: Credentials) -> None:
    """Audit a failed sign-in; a wrong password also counts against its account from its address (own write
    transaction). Tokens count against nothing: see Credentials.subjects."""
    subjects = creds.subjects()
    now = now_us()
    if subjects:
        repo.insert_failures(conn, subjects, now)
        # This account from this address must be re-checked, not served from memory (only those entries).
        credential_cache.forget_subjects(subjects)
    actor = creds.email or creds.client or "anonymous"
    kind = "password" if creds.is_password else "token"
    record(conn, actor, "login.failure", client=creds.client, credential=kind)
    for subject in subjects:
        count, _ = repo.failures_since(conn, subject, now - get_settings().login_window_seconds * 1_000_000)
        delay = sign_in_delay(count)
        if delay > 0:
            record(conn, actor, "login.throttle", client=creds.client, failures=count, delay_seconds=delay)


def _user_principal(conn: Connection, user: Any, *, read_only: bool) -> Principal:
    return principal_for(
        conn, org_id=user.org_id, role=user.role, user_id=user.id, email=user.email, read_only=read_only
    )


def _check_token(conn: Connection, token: str, email: str | None) -> tuple[Principal | None, int | None]:
    prefix = security.token_prefix(token)
    row = repo.token_with_user(conn, prefix) if prefix is not None else None
    stored = row.token_hash if row is not None else security.token_digest("absent")
    if not security.digests_equal(stored, security.token_digest(token)) or row is None:
        return None, None
    if row.revoked_us is not None or row.disabled or (row.expires_us is not None and row.expires_us <= now_us()):
        return None, None
    if email is not None and email.strip().lower() != row.email:
        return None, None
    principal = principal_for(
        conn, org_id=row.org_id, role=row.role, user_id=row.user_id, email=row.email, read_only=row.read_only
    )
    return principal, row.expires_us


def _verify(conn: Connection, creds: Credentials) -> tuple[Principal | None, int | None]:
    """The principal for these credentials and the token's expiry (µs), checked against the database."""
    _throttle_check(conn, creds)
    if creds.token:
        return _check_token(conn, creds.token, None)
    if creds.email is None or creds.secret is None:
        return None, None
    if security.token_prefix(creds.secret) is not None:
        return _check_token(conn, creds.secret, creds.email)
    user = repo.get_user_by_email(conn, creds.email)
    if not security.verify_password(user.password_hash if user is not None else None, creds.secret):
        return None, None
    if user is None or user.disabled:
        return None, None
    return _user_principal(conn, user, read_only=False), None


def authenticate(conn: Connection, creds: Credentials) -> Principal | None:
    """The principal for these credentials, or None (the same for unknown and wrong ones).

    Raises TooManyRequests while a password's account is delayed from the client's address (tokens never are).
    The caller records a failure with record_login_failure in a transaction of its own, so that reads never take
    the write lock. A success is remembered for at most CREDENTIAL_CACHE_SECONDS (see recall_principal).
    """
    generation = repo.credentials_generation(conn)  # first: what is verified below is at least this recent
    principal, expires_us = _verify(conn, creds)
    if principal is not None:
        credential_cache.remember(creds, principal, expires_us, generation)
    return principal


def recall_principal(conn: Connection, creds: Credentials) -> Principal | None:
    """The principal of credentials verified under the node's current credentials generation (and less than
    CREDENTIAL_CACHE_SECONDS ago): one small read instead of the verification's queries."""
    return credential_cache.recall(creds, repo.credentials_generation(conn))


def forget_credentials(conn: Connection) -> None:
    """Every process of the node verifies credentials again once the caller's transaction commits: call with
    every change that may take access away or give it (revocations, roles, grants, memberships, links)."""
    repo.bump_generation(conn)
    credential_cache.clear()


TOKEN_USE_RESOLUTION_US = 60_000_000  # a token's last use is kept to the minute: at most one write a minute
_noted: dict[str, float] = {}  # token prefix -> when this process last wrote its use (monotonic seconds)


def token_use_due(creds: Credentials) -> str | None:
    """The prefix of the token these (verified) credentials carry if this process has not written its last use
    within the minute, else None; a dictionary look-up, so it is asked on every authenticated request."""
    token = creds.token or (creds.secret if not creds.is_password else None)
    prefix = security.token_prefix(token) if token else None
    if prefix is None:
        return None
    now = time.monotonic()
    seen = _noted.get(prefix)
    if seen is not None and now - seen < TOKEN_USE_RESOLUTION_US / 1e6:
        return None
    if len(_noted) >= 10_000:
        _noted.clear()
    _noted[prefix] = now
    return prefix


def note_token_use(conn: Connection, prefix: str) -> None:
    """Record that the token was used now, unless another process did within the minute (write transaction)."""
    now = now_us()
    repo.touch_token(conn, prefix, now, now - TOKEN_USE_RESOLUTION_US)


def principal_for_email(conn: Connection, email: str) -> Principal:
    """The principal of a user by e-mail (CLI `--as EMAIL`)."""
    user = repo.get_user_by_email(conn, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email!r}")
    return _user_principal(conn, user, read_only=False)
