"""Stateless keyset paging: `next` is an HMAC-signed token holding the last tick and what it is bound to.

A token carries (format, last tick, issue time, digest of the query and the caller) and an HMAC-SHA256 over
them with the node secret. Every request re-checks all of it, so a token cannot be forged, replayed by another
caller, reused for another collection or query, or kept for ever; any of those is a 400, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import threading
import time
from pathlib import Path

import orjson

from accord.core.errors import BadRequest
from accord.core.settings import get_settings
from accord.sharing.policy import Principal

TOKEN_FORMAT = 1
MAX_AGE_S = 86_400
_LAYOUT = struct.Struct(">Bqq16s")
_MAC_LEN = 16
_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def _read_or_create(path: Path) -> bytes:
    """The node secret in var_dir; created once (0600) so that every process of the node shares it."""
    try:
        data = path.read_bytes().strip()
        if data:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode())
    try:
        os.link(tmp, path)  # atomic: the first process wins, the others read its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def node_secret() -> bytes:
    """The key that signs pagination tokens (ACCORD_SECRET_KEY, else var_dir/secret.key)."""
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key.encode()
    key = str(settings.var_dir)
    found = _cache.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _cache:
            _cache[key] = _read_or_create((settings.var_dir / "secret.key").resolve())
        return _cache[key]


def binding(principal: Principal, collection_id: int, scope: str, canonical: list[object]) -> bytes:
    """Digest of what a token is valid for: caller, collection, endpoint (and object) and filters."""
    who = [principal.user_id, principal.org_id, principal.role.value]
    return hashlib.sha256(orjson.dumps([who, collection_id, scope, canonical])).digest()[:16]


def _mac(payload: bytes) -> bytes:
    return hmac.new(node_secret(), payload, hashlib.sha256).digest()[:_MAC_LEN]


def make_token(last_tick: int, bound: bytes) -> str:
    """A signed token resuming after `last_tick`."""
    payload = _LAYOUT.pack(TOKEN_FORMAT, last_tick, int(time.time()), bound)
    return base64.urlsafe_b64encode(payload + _mac(payload)).rstrip(b"=").decode()


def read_token(token: str, bound: bytes) -> int:
    """The tick a valid token resumes after; BadRequest for anything forged, foreign, stale or garbled."""
    invalid = BadRequest("next is not a valid token for this query")
    text = token.strip()
    if len(text) > 200:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(raw) != _LAYOUT.size + _MAC_LEN:
        raise invalid
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if not hmac.compare_digest(mac, _mac(payload)):
        raise invalid
    fmt, last_tick, issued, token_bound = _LAYOUT.unpack(payload)
    if fmt != TOKEN_FORMAT or not hmac.compare_digest(token_bound, bound):
        raise invalid
    age = time.time() - issued
    if age > MAX_AGE_S or age < -300:
        raise BadRequest("next has expired; start again without it")
    return int(last_tick)
