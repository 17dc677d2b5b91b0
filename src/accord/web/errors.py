"""Errors on console pages: an HTML page in the console's layout, never problem JSON (that is the API's)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import Response
from starlette.routing import Match

from accord.core.errors import AccordError
from accord.web.render import page
from accord.web.session import session_principal

# Paths that are not console pages: the API and TAXII answer in their own formats, static files plainly.
NOT_CONSOLE = ("/api/", "/taxii2", "/healthz", "/static/")
API_DOCS = "/api/v1/docs"
TITLES = {
    400: "The request was not valid",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported content",
    422: "The form was not valid",
    429: "Too many requests",
    500: "Something went wrong",
}


def _back(request: Request) -> str:
    """The console page a failed form belongs to: the nearest path, from the form's own up, that is a page.

    (Browsers send no Referer: the node's headers say no-referrer.)
    """
    if request.method != "POST":
        return ""
    path = request.url.path.rstrip("/")
    while path:
        scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
            return path
        path = path.rpartition("/")[0]
    return ""


def is_console(request: Request) -> bool:
    """Whether a request is for a console page (which answers errors in HTML)."""
    path = request.url.path
    return path == API_DOCS or not path.startswith(NOT_CONSOLE)


async def error_page(request: Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """The console's error page: what went wrong, in words, with the navigation and a way back."""
    try:
        principal = await session_principal(request)
    except AccordError:  # e.g. the database is unavailable: the page still explains the error
        principal = None
    response = page(
        request,
        "error.html",
        principal,
        status=status,
        title=TITLES.get(status, "Error"),
        message=message,
        back=_back(request),
    )
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response
