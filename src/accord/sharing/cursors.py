"""Paging cursors: the one opaque, stateless `next` format of every list that pages (TAXII and REST).

A cursor holds the position to resume after, masked, and its issue time; an HMAC-SHA256 with the node secret
covers them and what the cursor is bound to (the caller and the query), which the cursor does not carry.
Every request re-checks all of it, so a cursor cannot be forged, replayed by another caller, reused for another
query or kept for ever: any of those is a 400, never a 500. The position is masked because positions are
sequence numbers over everything stored: gaps between two pages' positions would show that versions the caller
may not read exist (W3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from accord.core.errors import BadRequest
from accord.core.keys import read_or_create
from accord.core.settings import get_settings
from accord.sharing.policy import Principal

CURSOR_FORMAT = 2
MAX_AGE_S = 86_400
_HEAD = struct.Struct(">Bq8s")  # format, issue time (s), nonce; the masked position follows
_POSITION = struct.Struct(">q")
_PAYLOAD_LEN = _HEAD.size + _POSITION.size
_MAC_LEN = 16
_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def node_secret() -> bytes:
    """The key that cursors are masked and signed with (ACCORD_SECRET_KEY, else var_dir/secret.key)."""
    settings = get_settings()
    if settings.secret_key:
        return settings.secret_key.encode()
    key = str(settings.var_dir)
    found = _cache.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _cache:
            _cache[key] = read_or_create(
                (settings.var_dir / "secret.key").resolve(), lambda: secrets.token_hex(32).encode()
            )
        return _cache[key]


def binding(principal: Principal, scope: str, query: object) -> bytes:
    """Digest of what a cursor is valid for: the caller, the list (`scope`) and its filters (`query`, JSON-able)."""
    who = [principal.user_id, principal.org_id, principal.role.value]
    return hashlib.sha256(orjson.dumps([who, scope, query])).digest()[:16]


def _key(purpose: bytes) -> bytes:
    return hmac.new(node_secret(), purpose, hashlib.sha256).digest()


def _mask(head: bytes) -> bytes:
    # A fresh pad for each cursor (the random nonce), so two cursors never share one and their XOR shows nothing.
    return hmac.new(_key(b"accord cursor position"), head, hashlib.sha256).digest()[: _POSITION.size]


def _mac(payload: bytes, bound: bytes) -> bytes:
    return hmac.new(_key(b"accord cursor mac"), payload + bound, hashlib.sha256).digest()[:_MAC_LEN]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def make_cursor(position: int, bound: bytes) -> str:
    """An opaque cursor resuming after `position`, valid only for `bound` (see binding)."""
    head = _HEAD.pack(CURSOR_FORMAT, int(time.time()), secrets.token_bytes(8))
    payload = head + _xor(_POSITION.pack(position), _mask(head))
    return base64.urlsafe_b64encode(payload + _mac(payload, bound)).rstrip(b"=").decode()


def read_cursor(cursor: str, bound: bytes, *, param: str = "next") -> int:
    """The position a valid cursor resumes after; BadRequest for anything forged, foreign, stale or garbled."""
    invalid = BadRequest(f"{param} is not a valid token for this query")
    text = cursor.strip()
    if len(text) > 200:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    if len(raw) != _PAYLOAD_LEN + _MAC_LEN:
        raise invalid
    payload, mac = raw[:_PAYLOAD_LEN], raw[_PAYLOAD_LEN:]
    if not hmac.compare_digest(mac, _mac(payload, bound)):
        raise invalid  # forged, or issued to another caller or for another query
    head, masked = payload[: _HEAD.size], payload[_HEAD.size :]
    fmt, issued, _nonce = _HEAD.unpack(head)
    if fmt != CURSOR_FORMAT:
        raise invalid
    age = time.time() - issued
    if age > MAX_AGE_S or age < -300:
        raise BadRequest(f"{param} has expired; start again without it")
    (position,) = _POSITION.unpack(_xor(masked, _mask(head)))
    return int(position)


def keyset_page(
    principal: Principal,
    scope: str,
    query: object,
    cursor: str | None,
    limit: int,
    fetch: Callable[[int | None, int], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `fetch(position, limit + 1)` (items carry their position as "_key") and the opaque cursor of
    the next page, bound to the caller and the query; None when this is the last page. The REST API and the
    console page the same way."""
    bound = binding(principal, scope, query)
    position = None if cursor is None else read_cursor(cursor, bound, param="after")
    items = fetch(position, limit + 1)
    following = make_cursor(items[limit - 1]["_key"], bound) if len(items) > limit else None
    return items[:limit], following
