"""What the console's form actions share: list fields typed into a form, and a form write (CSRF check, write
access, one transaction, post/redirect/get). List pages page with accord.sharing.cursors.keyset_page."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.core.db import get_engine, transaction
from accord.core.errors import Forbidden
from accord.sharing.policy import Principal
from accord.web.session import check_csrf

SPLIT = re.compile(r"[\s,;]+")
NAMES = re.compile(r"\s*[,\n]\s*")


def names(text: str) -> list[str]:
    """Organisation names (or e-mails), one per line or comma-separated."""
    return [n for n in (part.strip() for part in NAMES.split(text or "")) if n]


def ids(text: str) -> list[str]:
    """Identifiers separated by spaces, commas, semicolons or lines."""
    return [i for i in SPLIT.split(text.strip()) if i] if text.strip() else []


def require_writer(principal: Principal) -> None:
    if not principal.can_write:
        raise Forbidden("this session cannot write (read-only token or reader role)")


async def write(
    request: Request, principal: Principal, action: Callable[[Connection, dict[str, str]], str]
) -> Response:
    """Check the form's CSRF value and the user's write access, run `action` in one transaction, then go to
    the page it names (post/redirect/get)."""
    form = await check_csrf(request)
    require_writer(principal)

    def run() -> str:
        with transaction(get_engine()) as conn:
            return action(conn, form)

    target = await run_in_threadpool(run)
    return RedirectResponse(target, status_code=303)
