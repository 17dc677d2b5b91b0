"""Console sessions: sign-in, sign-out, the session cookie, and the CSRF check of every state-changing form.

A session is an API token of the signed-in user (created at sign-in with a one-day expiry, revoked at
sign-out), held in an HttpOnly, SameSite=Strict cookie (Secure behind https). Each request verifies it like any
other token, so a revoked token, a disabled user or a changed role takes effect on the next request, in every
server process. CSRF: a random double-submit value in a second cookie, echoed by every form; a POST whose form
value does not match it is refused (and one whose Origin names another site).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from accord.accounts.credentials import Credentials
from accord.accounts.service import authenticate, recall_principal, record_login_failure
from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import Forbidden
from accord.sharing.policy import Principal

SESSION_COOKIE = "accord_session"
CSRF_COOKIE = "accord_csrf"
SESSION_DAYS = 1


class SignInRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, token: str) -> None:
    """Hand the browser its session cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86_400,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )


def clear_session(response: Response) -> None:
    """Drop the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def csrf_value(request: Request) -> str:
    """The CSRF value forms echo: the browser's, or a new one set on the response by `ensure_csrf_cookie`."""
    value = request.cookies.get(CSRF_COOKIE)
    if not value or len(value) != 43:
        value = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = value
    return value


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this request made a new value."""
    value = getattr(request.state, "new_csrf", None)
    if value:
        response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request), path="/")


async def check_csrf(request: Request) -> dict[str, str]:
    """The submitted form of a POST, after its CSRF value and origin are checked (403 otherwise)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if parts.netloc != request.url.netloc:
            raise Forbidden("this form was sent from another site")
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = fields.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Forbidden("the form's security token is missing or stale; reload the page and try again")
    request.state.form = form
    return fields


def _verify_session(token: str, client: str) -> Principal | None:
    creds = Credentials(token=token, client=client)
    with read_transaction(get_engine()) as conn:
        return recall_principal(conn, creds) or authenticate(conn, creds)


async def session_principal(request: Request) -> Principal | None:
    """The signed-in user, or None."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    client = request.client.host if request.client else ""
    principal = await run_in_threadpool(_verify_session, token, client)
    if principal is not None:
        request.state.principal = principal
    return principal


async def web_principal(request: Request) -> Principal:
    """The signed-in user; a redirect to the sign-in page otherwise."""
    principal = await session_principal(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return principal


def sign_in_redirect(exc: SignInRequired) -> Response:
    """Where a page that needs a session sends a visitor without one."""
    response = RedirectResponse(f"/signin?next={quote(exc.next_path, safe='')}", status_code=303)
    clear_session(response)
    return response


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def verify_password(email: str, password: str, client: str) -> Principal | None:
    """The principal of an e-mail and password (throttled as every sign-in is), or None; a failure is counted."""
    if password.startswith("acc_"):  # the console signs in with passwords, not tokens
        password = "\x01"  # noqa: S105 - never a valid password: the failure is counted like any other
    creds = Credentials(email=email, secret=password, client=client)
    with read_transaction(get_engine()) as conn:
        principal = authenticate(conn, creds)
    if principal is None:
        with transaction(get_engine()) as conn:
            record_login_failure(conn, creds)
    return principal
