"""My tokens: create (with expiry, read-only), list and revoke the signed-in user's own API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from accord.accounts import security
from accord.accounts import service as accounts
from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import BadRequest, NotFound
from accord.sharing.policy import Principal
from accord.web.render import page
from accord.web.session import SESSION_COOKIE, check_csrf, web_principal

router = APIRouter(include_in_schema=False)


def _own_tokens(principal: Principal) -> list[object]:
    with read_transaction(get_engine()) as conn:
        return accounts.list_tokens(conn, principal.email)


@router.get("/tokens")
def tokens_page(request: Request, principal: Principal = Depends(web_principal)) -> HTMLResponse:
    """The user's tokens (never their secrets)."""
    session_prefix = security.token_prefix(request.cookies.get(SESSION_COOKIE, "")) or ""
    return page(request, "tokens.html", principal, tokens=_own_tokens(principal), created=None, session=session_prefix)


@router.post("/tokens")
async def create_token(request: Request, principal: Principal = Depends(web_principal)) -> Response:
    """A new token, shown once on the page that answers."""
    form = await check_csrf(request)
    days_text = form.get("expires_days", "").strip()
    if days_text and not days_text.isdigit():
        raise BadRequest("expiry must be a whole number of days")
    days = int(days_text) if days_text else None
    read_only = form.get("read_only") == "on" or not principal.can_write

    def write() -> str:
        with transaction(get_engine()) as conn:
            return accounts.create_token(
                conn, principal.email, read_only=read_only, expires_days=days, actor=principal.email
            )

    token = await run_in_threadpool(write)
    session_prefix = security.token_prefix(request.cookies.get(SESSION_COOKIE, "")) or ""
    return page(request, "tokens.html", principal, tokens=_own_tokens(principal), created=token, session=session_prefix)


@router.post("/tokens/{prefix}/revoke")
async def revoke_token(request: Request, prefix: str, principal: Principal = Depends(web_principal)) -> Response:
    """Revoke one of the user's own tokens (another user's prefix is not found)."""
    await check_csrf(request)

    def write() -> None:
        with transaction(get_engine()) as conn:
            own = {t.prefix for t in accounts.list_tokens(conn, principal.email)}
            if prefix not in own:
                raise NotFound(f"no active token with prefix {prefix!r}")
            accounts.revoke_token(conn, prefix, actor=principal.email)

    await run_in_threadpool(write)
    return RedirectResponse("/tokens", status_code=303)
