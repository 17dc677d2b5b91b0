"""Page rendering: one Jinja2 environment (autoescaped), the navigation filtered by role, and the page context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from accord.sharing.policy import Principal
from accord.web.session import csrf_value, ensure_csrf_cookie

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class NavItem:
    """One navigation link; `roles` lists who sees it (None: every signed-in user)."""

    label: str
    path: str
    roles: frozenset[str] | None = None
    account: bool = False  # shown with the user's name and the sign-out button, not in the main navigation


# Features add their pages here (the joint-work pages of cases, tasks and requests append to this list).
# Administration pages are one entry, "Admin", with its own sub-navigation (templates/_adminnav.html): the
# navigation of every role fits one line at 1,280 px (tests/browser/test_session.py).
NAV: list[NavItem] = [
    NavItem("Home", "/"),
    NavItem("Search", "/search"),
    NavItem("Extract", "/extract", frozenset({"admin", "analyst"})),
    NavItem("Feeds", "/feeds"),
    NavItem("My tokens", "/tokens", account=True),
    NavItem("API docs", "/api/v1/docs", account=True),
    NavItem("Admin", "/admin", frozenset({"admin"})),
]


# A count shown beside a navigation link (e.g. unread notifications), by the link's path.
BADGES: dict[str, Callable[[Principal], int]] = {}


def nav_for(principal: Principal | None, *, account: bool = False) -> list[NavItem]:
    """The navigation this user may see (`account`: the links shown by the user's name instead)."""
    if principal is None:
        return []
    return [
        item for item in NAV if item.account == account and (item.roles is None or principal.role.value in item.roles)
    ]


def _datetime(us: int | None) -> str:
    if us is None:
        return ""
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _stamp(text: str | None) -> str:
    """A STIX timestamp as pages show it: to the minute, in UTC."""
    if not text or len(text) < 16 or text[10] != "T":
        return text or ""
    return f"{text[:10]} {text[11:16]} UTC"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The console's template environment: every value is HTML-escaped unless a template says otherwise."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["datetime"] = _datetime
    env.filters["stamp"] = _stamp
    env.filters["tlp_class"] = lambda label: (label or "unmarked").lower().replace("tlp:", "").replace("+", "-")
    return env


def page(
    request: Request, template: str, principal: Principal | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with the layout's context (user, navigation, CSRF value)."""
    body = (
        environment()
        .get_template(template)
        .render(
            user=principal,
            nav=nav_for(principal),
            account_nav=nav_for(principal, account=True),
            badges={path: count(principal) for path, count in BADGES.items()} if principal is not None else {},
            current=request.url.path,
            csrf=csrf_value(request),
            **context,
        )
    )
    response = HTMLResponse(body, status_code=status, headers={"cache-control": "no-store"})
    ensure_csrf_cookie(request, response)
    return response
