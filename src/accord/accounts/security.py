"""Password hashing (argon2) and API token generation and checking, constant-time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "acc_"  # noqa: S105 - a public marker, not a secret


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against when the account is unknown, so unknown and wrong credentials cost the same.
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher().hash(password)


_VERIFIED: dict[str, float] = {}
_VERIFIED_TTL = 60.0


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-time check; unknown accounts (None) take as long as known ones.

    A successful check is remembered for a minute (keyed by a digest of hash and password) so that
    TAXII clients sending Basic credentials on every page do not pay argon2 on each request.
    """
    key = hashlib.sha256(f"{stored_hash}\0{password}".encode()).hexdigest()
    seen = _VERIFIED.get(key)
    if stored_hash is not None and seen is not None and time.monotonic() - seen < _VERIFIED_TTL:
        return True
    try:
        ok = _hasher().verify(stored_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if ok and stored_hash is not None:
        if len(_VERIFIED) > 10_000:
            _VERIFIED.clear()
        _VERIFIED[key] = time.monotonic()
        return True
    return False


def new_token() -> tuple[str, str, str]:
    """A fresh token as (token, prefix, stored hash); the token itself is shown once and never stored."""
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return token, prefix, token_digest(token)


def token_digest(token: str) -> str:
    """The stored form of a token (tokens are random, so a plain SHA-256 is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str | None:
    """The identifying prefix of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    rest = token[len(TOKEN_PREFIX) :]
    prefix, sep, _ = rest.partition("_")
    return prefix if sep and len(prefix) == 8 else None


def digests_equal(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())
