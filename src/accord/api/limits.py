"""Request header and URL limits (docs/limits.md): 431 for too many or too large headers, 414 for a long URL.

A pure ASGI middleware placed outside every other one but the security headers, so that an oversized request is
answered before authentication, body reading or routing, as a problem JSON (a TAXII error object on /taxii2).
The server in front (uvicorn) cuts header blocks past its own bound first; these are the node's promises.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from accord.api.errors import render_error

MAX_HEADER_COUNT = 100
MAX_HEADER_BYTES = 32 * 1024  # names and values together; one large header (a long token) is well under it
MAX_URL_BYTES = 8 * 1024  # path and query string


class RequestLimits:
    """Refuse requests whose headers or URL are past the limits, before anything reads them further."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        reason = None
        status = 431
        if len(headers) > MAX_HEADER_COUNT:
            reason = f"the request has {len(headers)} headers; at most {MAX_HEADER_COUNT} are accepted"
        elif sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
            reason = f"the request headers exceed {MAX_HEADER_BYTES} bytes"
        elif len(scope.get("raw_path") or scope.get("path", "").encode()) + len(scope.get("query_string", b"")) > (
            MAX_URL_BYTES
        ):
            reason, status = f"the URL exceeds {MAX_URL_BYTES} bytes", 414
        if reason is None:
            await self.app(scope, receive, send)
            return
        response = render_error(Request(scope), status, reason)
        await response(scope, receive, send)
