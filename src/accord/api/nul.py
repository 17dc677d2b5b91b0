"""Refuse NUL characters in requests before any handler runs: a 400 with the reason, on every database.

PostgreSQL text cannot hold NUL, so a name, an alias or a query parameter holding one would fail inside the
database (a 500); SQLite would store it, and the two databases would disagree. No value Accord keeps needs one.
The URL (path and query) of every request is checked, and bodies that are JSON or form fields. TAXII envelopes
are left to the store, which refuses each object holding a NUL as a failure of its own (accord.store.prepare);
uploads (multipart) are documents, where NUL bytes are ordinary.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.api.errors import render_error
from accord.store.prepare import holds_nul

_CHECKED_BODIES = (b"application/json", b"application/x-www-form-urlencoded")
REASON = "the request holds a NUL character (\\u0000); Accord stores no such value"


def _body_holds_nul(content_type: bytes, body: bytes) -> bool:
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        return b"%00" in body or b"\x00" in body
    return holds_nul(body)


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
        for key, value in scope.get("headers", []):
            if key == b"content-type":
                content_type = value.lower()
        if scope.get("path", "").startswith("/taxii2") or not content_type.startswith(_CHECKED_BODIES):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if _body_holds_nul(content_type, body):
            await self._refuse(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        from fastapi import Request

        await render_error(Request(scope), 400, REASON)(scope, receive, send)
