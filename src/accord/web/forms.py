"""What the console's list pages and form actions share: list fields typed into a form, a keyset page with its
opaque cursor, and a form write (CSRF check, write access, one transaction, post/redirect/get)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.core.db import get_engine, transaction
from accord.core.errors import Forbidden
from accord.sharing import cursors
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


def keyset(
    principal: Principal,
    scope: str,
    query: object,
    cursor: str | None,
    limit: int,
    fetch: Callable[[int | None, int], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `fetch(position, limit + 1)` and the opaque cursor of the next (bound to user and query)."""
    bound = cursors.binding(principal, scope, query)
    position = None if cursor is None else cursors.read_cursor(cursor, bound, param="after")
    items = fetch(position, limit + 1)
    following = cursors.make_cursor(items[limit - 1]["_key"], bound) if len(items) > limit else None
    return items[:limit], following
