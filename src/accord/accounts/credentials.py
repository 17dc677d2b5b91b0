"""Presented credentials, and the short-lived memory of verified ones that spares each request its queries."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from accord.accounts.security import TOKEN_PREFIX
from accord.core.clock import now_us
from accord.core.settings import get_settings
from accord.sharing.policy import Principal

__all__ = ["CREDENTIAL_CACHE_SECONDS", "CredentialCache", "Credentials", "credential_cache"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presented: a bearer token, or a Basic e-mail with a password or token."""

    token: str | None = None
    email: str | None = None
    secret: str | None = None
    client: str = ""

    @property
    def is_password(self) -> bool:
        """Whether these are an e-mail and a password (not a token, under either scheme)."""
        return self.email is not None and self.secret is not None and not self.secret.startswith(TOKEN_PREFIX)

    def subjects(self) -> tuple[str, ...]:
        """What failed sign-ins are counted against: the account named together with the client address.

        Only passwords: a token is random, so guessing one gains nothing from a throttle, and a valid token must
        never be refused because somebody else failed from the same address (or with the same account).
        """
        if not self.is_password:
            return ()
        return (f"pair:{(self.email or '').strip().lower()}|{self.client}",)


CREDENTIAL_CACHE_SECONDS = 5.0
_CACHE_MAX_ENTRIES = 10_000


class CredentialCache:
    """Recently verified credentials and their principals, for at most `ttl` seconds each.

    TAXII clients send the same credentials on every page; verifying them (token digest, throttle check, and
    the principal's collections and peers) costs several queries per request. A remembered entry is keyed by a
    keyed digest of the presented secret and of what the principal depends on (database, default TLP), never by
    the secret itself, and holds the node's credentials generation it was verified under. Bounds: a token's
    expiry is exact; a revocation, a changed role, grant, membership or peer link made through Accord in any
    process of the node (API, CLI, worker) bumps the generation in the same transaction (forget_credentials), so
    the very next request anywhere verifies again; a change made behind Accord's back (direct SQL) takes effect
    within `ttl` seconds. A failed sign-in forgets only the entries its
    throttle applies to (the same account from the same address), so they are re-checked against the throttle.
    """

    def __init__(self, ttl: float = CREDENTIAL_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[bytes, tuple[float, int | None, Principal, tuple[str, ...], int]] = {}
        self._lock = threading.Lock()
        self._salt = uuid.uuid4().bytes  # per process: digests are useless outside it

    def _key(self, creds: Credentials) -> bytes:
        s = get_settings()
        # A password is remembered per client address: its throttle is per (account, address), and a password
        # delayed from one address must not be answered from a verification made for another.
        client = creds.client if creds.is_password else ""
        parts = (s.database_url, s.default_tlp, creds.token or "", creds.email or "", creds.secret or "", client)
        return hashlib.blake2b("\0".join(parts).encode(), key=self._salt, digest_size=32).digest()

    def recall(self, creds: Credentials, generation: int = 0) -> Principal | None:
        """The remembered principal, or None when unknown, older than the bound, or verified under an earlier
        credentials generation (a revocation, role, grant, membership or link change anywhere on the node)."""
        found = self._entries.get(self._key(creds))
        if found is None:
            return None
        until, expires_us, principal, _, seen = found
        if seen != generation or self.clock() >= until or (expires_us is not None and expires_us <= now_us()):
            return None
        return principal

    def remember(self, creds: Credentials, principal: Principal, expires_us: int | None, generation: int = 0) -> None:
        """Remember a successful verification, made under this credentials generation, for `ttl` seconds."""
        if self.ttl <= 0:
            return
        key = self._key(creds)
        now = self.clock()
        with self._lock:
            if len(self._entries) >= _CACHE_MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= _CACHE_MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (now + self.ttl, expires_us, principal, creds.subjects(), generation)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries = {}

    def forget_subjects(self, subjects: tuple[str, ...]) -> None:
        """Forget the verifications a failed sign-in's throttle applies to (same account from the same address).

        Only those: one client's wrong passwords must not send every other client back to the database.
        """
        wanted = set(subjects)
        if not wanted:
            return
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if wanted.isdisjoint(v[3])}


credential_cache = CredentialCache()
