"""Sign-in and sign-out pages."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from accord.accounts import service as accounts
from accord.core.db import get_engine, transaction
from accord.core.errors import NotFound, TooManyRequests
from accord.web.render import page
from accord.web.session import (
    SESSION_COOKIE,
    SESSION_DAYS,
    check_csrf,
    clear_session,
    safe_next,
    session_principal,
    set_session,
    verify_password,
)

router = APIRouter(include_in_schema=False)


@router.get("/signin")
async def signin_page(request: Request, next: str = "/") -> Response:
    """The sign-in form (signed-in users go straight on)."""
    if await session_principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "signin.html", None, next=safe_next(next), error=None, email="")


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Check e-mail and password; on success start a session (a one-day token of the user) and go on."""
    form = await check_csrf(request)
    email, password = form.get("email", "").strip(), form.get("password", "")
    target = safe_next(form.get("next"))
    client = request.client.host if request.client else ""
    try:
        principal = await run_in_threadpool(verify_password, email, password, client)
    except TooManyRequests as exc:
        return _refused(request, target, email, exc.message, 429)
    if principal is None:
        return _refused(request, target, email, "Wrong e-mail or password.", 401)

    def start() -> str:
        with transaction(get_engine()) as conn:
            return accounts.create_token(conn, principal.email, expires_days=SESSION_DAYS, actor=principal.email)

    token = await run_in_threadpool(start)
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, token)
    return response


def _refused(request: Request, target: str, email: str, error: str, status: int) -> HTMLResponse:
    return page(request, "signin.html", None, status=status, next=target, error=error, email=email)


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the session: its token is revoked, so the cookie is worthless everywhere at once."""
    await check_csrf(request)
    token = request.cookies.get(SESSION_COOKIE)
    principal = await session_principal(request)
    if token and principal is not None:

        def end() -> None:
            with transaction(get_engine()) as conn, contextlib.suppress(NotFound):  # already revoked elsewhere
                accounts.revoke_token(conn, token, actor=principal.email)

        await run_in_threadpool(end)
    response = RedirectResponse("/signin", status_code=303)
    clear_session(response)
    return response
