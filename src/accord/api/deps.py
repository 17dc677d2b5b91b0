"""Request dependencies: authentication (Bearer or Basic) and database units of work."""

from __future__ import annotations

import asyncio
import base64
import binascii
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager

from fastapi import Depends, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.accounts.authentication import (
    authenticate,
    note_token_use,
    recall_principal,
    record_login_failure,
    token_use_due,
)
from accord.accounts.credentials import Credentials
from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import BadRequest, Forbidden, PayloadTooLarge, Unauthorized
from accord.core.limits import declared_too_large
from accord.sharing.policy import Principal


def parse_credentials(request: Request) -> Credentials | None:
    """Credentials from the Authorization header, or None when there is none."""
    header = request.headers.get("authorization")
    client = request.client.host if request.client else ""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme in ("bearer", "token") and value:  # `Token KEY`: what taxii2-client's TokenAuth sends
        return Credentials(token=value, client=client)
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        email, sep, secret = decoded.partition(":")
        if not sep:
            raise Unauthorized("malformed Basic credentials")
        return Credentials(email=email, secret=secret, client=client)
    raise Unauthorized("unsupported authorization scheme; use Bearer, Token or Basic")


def verify_credentials(creds: Credentials) -> Principal:
    """The principal of these credentials (401 or 429 otherwise), from a request's Authorization header."""
    with snapshot() as conn:
        # One small read answers credentials verified under the node's current generation; only a change
        # anywhere on the node since (or a first request) sends them through the whole verification.
        principal = recall_principal(conn, creds) or authenticate(conn, creds)
    if principal is None:
        with unit_of_work() as conn:  # the refusal is recorded although the request fails
            record_login_failure(conn, creds)
        raise Unauthorized("invalid credentials")
    prefix = token_use_due(creds)  # at most once a minute per token: never a write per request
    if prefix is not None:
        with unit_of_work() as conn:
            note_token_use(conn, prefix)
    return principal


async def current_principal(request: Request) -> Principal:
    """The authenticated caller; 401 (identical for unknown and wrong credentials) otherwise.

    Credentials verified under the node's current credentials generation are answered from memory after one
    small read (see accounts.credentials.CredentialCache); a revocation or a changed role, grant or membership
    made by any process of the node is seen by the very next request.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    creds = parse_credentials(request)
    if creds is None:
        raise Unauthorized("authentication required")
    principal = await run_in_threadpool(verify_credentials, creds)
    request.state.principal = principal
    return principal


async def admin_principal(principal: Principal = Depends(current_principal)) -> Principal:
    """The caller, who must be a node admin."""
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
    return principal


async def admin_writer(principal: Principal = Depends(admin_principal)) -> Principal:
    """An admin whose token may write."""
    if principal.read_only:
        raise Forbidden("this token is read-only")
    return principal


async def writer_principal(principal: Principal = Depends(current_principal)) -> Principal:
    """The caller, who must be allowed to write (role and token)."""
    if not principal.can_write:
        raise Forbidden("this token or role cannot write")
    return principal


def snapshot() -> AbstractContextManager[Connection]:
    """A request's read-only unit of work: one consistent snapshot, never the write lock (what read_conn gives)."""
    return read_transaction(get_engine())


def unit_of_work() -> AbstractContextManager[Connection]:
    """A request's unit of work: committed at its end, rolled back on error (what WRITE_CONN gives).

    A route takes it as a dependency (read_conn, WRITE_CONN), which FastAPI opens before the handler runs and
    closes when it returns. The one route with work that must fall between a read and a write holding neither
    (the extraction upload, accord.api.extract) opens the same two units itself, around that work; it closes its
    write unit, committing, before it returns, so its response too comes after the commit.
    """
    return transaction(get_engine())


def read_conn() -> Iterator[Connection]:
    """A read-only snapshot for the request."""
    with snapshot() as conn:
        yield conn


_write_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def write_slot() -> AsyncIterator[None]:
    """On SQLite, one writing request of this process at a time opens its unit of work; the others wait here,
    in the event loop, holding no thread.

    SQLite has one writer. Without this, every writing request took a worker thread and slept in SQLite's busy
    handler for the lock: under 50 clients the threads all waited on writes, reads queued behind them for a
    thread (p99 25 s), and some writes timed out (503). Other processes (the worker, the CLI) still meet the
    lock in SQLite's busy handler. PostgreSQL writes concurrently: no slot.
    """
    if get_engine().dialect.name != "sqlite":
        yield
        return
    loop = asyncio.get_running_loop()
    lock = _write_slots.get(loop)
    if lock is None:
        lock = _write_slots[loop] = asyncio.Lock()
    async with lock:
        yield


def write_conn(_slot: None = Depends(write_slot, scope="function")) -> Iterator[Connection]:
    """The request's unit of work: committed when the handler returns, rolled back on error."""
    with unit_of_work() as conn:
        yield conn


# Routes take their unit of work as `conn: Connection = WRITE_CONN`, never as a bare Depends(write_conn). The
# "function" scope makes FastAPI leave the dependency (commit) when the handler returns, before the response is
# sent, so a failed commit becomes the error response. The default "request" scope commits after the response
# went out: a write answered 201 and stored nothing, or showed a token that never existed.
WRITE_CONN = Depends(write_conn, scope="function")


async def read_body(request: Request, max_length: int, limit_name: str) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed max_length (never read whole first)."""
    too_large = f"the body exceeds {limit_name} ({max_length} bytes)"
    declared = request.headers.get("content-length")
    if declared is not None and not declared.strip().isdigit():
        raise BadRequest("Content-Length must be a number")
    if declared_too_large(declared, max_length):
        raise PayloadTooLarge(too_large)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_length:
            raise PayloadTooLarge(too_large)
        chunks.append(chunk)
    return b"".join(chunks)
