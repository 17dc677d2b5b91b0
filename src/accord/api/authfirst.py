"""Credentials before bodies: a request that sends a body to the REST API is authenticated before its body is read.

Without this, FastAPI reads and parses a route's body before it resolves the route's dependencies (authentication
among them), and the JSON checks (accord.api.nul) read up to 16 MiB first: a garbage or revoked token with a large
body cost the node the whole upload. Here the Authorization header is verified first (the credential cache makes
that one small read), a refusal is answered without reading a byte of the body, and the verified principal is
left in the request's state, where accord.api.deps.current_principal takes it instead of verifying again.

TAXII POSTs authenticate in their dependencies before reading the envelope (accord.api.taxii.posted_envelope), and
the web console's forms carry a session cookie checked by its own routes: both are left as they are.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from accord.api.deps import parse_credentials, verify_credentials
from accord.api.errors import render_error
from accord.api.nul import MAX_BODY_BYTES, checked_body
from accord.core.errors import AccordError, Unauthorized
from accord.core.limits import declared_too_large

AUTHENTICATED = "/api/v1/"  # every route under it that takes a body needs credentials
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class AuthBeforeBody:
    """ASGI middleware: 401 (or 429) for a REST request with a body and missing or invalid credentials, unread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in _WITH_BODY
            or not scope.get("path", "").startswith(AUTHENTICATED)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if checked_body(request.headers.get("content-type", "").lower().encode()) and declared_too_large(
            request.headers.get("content-length"), MAX_BODY_BYTES
        ):
            await self.app(scope, receive, send)  # NulGuard answers 413 from the declared length, reading nothing
            return
        try:
            creds = parse_credentials(request)
            if creds is None:
                raise Unauthorized("authentication required")
            principal = await run_in_threadpool(verify_credentials, creds)
        except AccordError as exc:
            retry_after = getattr(exc, "retry_after", None)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            await render_error(request, exc.status, exc.message, headers=headers)(scope, receive, send)
            return
        request.state.principal = principal
        await self.app(scope, receive, send)
