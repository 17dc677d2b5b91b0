"""Refuse NUL characters in requests before any handler runs: a 400 with the reason, on every database; and JSON
bodies past the size and nesting limits (docs/limits.md).

PostgreSQL text cannot hold NUL, so a name, an alias or a query parameter holding one would fail inside the
database (a 500); SQLite would store it, and the two databases would disagree. No value Accord keeps needs one.
The URL (path and query) of every request is checked, and bodies that are JSON or form fields. TAXII envelopes
are left to the store, which refuses each object holding a NUL as a failure of its own (accord.store.prepare);
uploads (multipart) are documents, where NUL bytes are ordinary. JSON bodies nested deeper than MAX_JSON_DEPTH
are refused here too (400), before a parser walks them.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.errors import render_error
from accord.core.limits import MAX_JSON_DEPTH, json_too_deep
from accord.store.prepare import holds_nul

_CHECKED_BODIES = (b"application/json", b"application/x-www-form-urlencoded")
# The most a JSON or form body outside TAXII may hold (a lookup of 10,000 values is well under 1 MB): larger
# ones are refused (413) from their Content-Length, or as soon as they grow past it, before they are held whole.
MAX_BODY_BYTES = 16 * 1024 * 1024


def checked_body(content_type: bytes) -> bool:
    """JSON (any application/…+json too, e.g. merge-patch) and form bodies."""
    media = content_type.split(b";", 1)[0].strip()
    return media.startswith(_CHECKED_BODIES) or (media.startswith(b"application/") and media.endswith(b"+json"))


REASON = "the request holds a NUL character (\\u0000); Accord stores no such value"
TOO_DEEP = f"the JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"


_SCAN_INLINE = 256 * 1024  # bytes of body checked on the event loop; larger ones in a worker thread


def _refusal(content_type: bytes, body: bytes) -> str | None:
    """Why a JSON or form body is refused (a NUL; JSON nested too deep), or None."""
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        return REASON if b"%00" in body or b"\x00" in body else None
    if holds_nul(body):
        return REASON
    return TOO_DEEP if json_too_deep(body) else None


class NulGuard:
    """ASGI middleware: 400 for a NUL in the URL, or in a JSON or form body outside TAXII envelopes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await self._refuse(scope, receive, send)
            return
        content_type = b""
        declared = b""
        for key, value in scope.get("headers", []):
            if key == b"content-type":
                content_type = value.lower()
            elif key == b"content-length":
                declared = value
        if scope.get("path", "").startswith("/taxii2") or not checked_body(content_type):
            await self.app(scope, receive, send)
            return
        if declared.strip().isdigit() and int(declared) > MAX_BODY_BYTES:
            await self._too_large(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        # A large body is scanned off the event loop: other requests go on meanwhile.
        reason = (
            await run_in_threadpool(_refusal, content_type, body)
            if size > _SCAN_INLINE
            else _refusal(content_type, body)
        )
        if reason is not None:
            await render_error(Request(scope), 400, reason)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
        from fastapi import Request

        message = f"the body is larger than {MAX_BODY_BYTES:,} bytes, the most a JSON or form request may hold"
        await render_error(Request(scope), 413, message)(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        from fastapi import Request

        await render_error(Request(scope), 400, REASON)(scope, receive, send)
