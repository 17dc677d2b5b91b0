"""The web console: server-rendered pages at /, our own static files, the npm libraries, and offline API docs.

Every page is a client of the same services as the REST API and reads through the one sharing policy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from accord.core.settings import get_settings
from accord.web import admin, auth, extract, joint, links, objects, pages, pirs, reports, tokens
from accord.web.render import page
from accord.web.session import SignInRequired, session_principal, sign_in_redirect

STATIC = Path(__file__).with_name("static")
# Which folder of each npm package is served, under /static/vendor/<package>/ (nothing else of node_modules).
VENDOR = {
    "swagger-ui-dist": "",
    "cytoscape": "dist",
    "chart.js": "dist",
}
log = logging.getLogger("accord")


def assets_dir() -> Path:
    """Where `npm ci` installed the console's front-end packages."""
    configured = get_settings().web_assets_dir
    return configured if configured is not None else Path(__file__).resolve().parents[3] / "node_modules"


def _mount_vendor(app: FastAPI) -> None:
    root = assets_dir()
    for package, sub in VENDOR.items():
        folder = root / package / sub
        if folder.is_dir():
            app.mount(f"/static/vendor/{package}", StaticFiles(directory=folder), name=f"vendor-{package}")
        else:
            log.warning("the console's %s is not installed (run `npm ci`); pages that use it lack it", package)


def register(app: FastAPI) -> None:
    """Mount the console's pages and files."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(exc)

    @app.get("/api/v1/docs", include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        return page(request, "apidocs.html", await session_principal(request))

    app.mount("/static/console", StaticFiles(directory=STATIC), name="console-static")
    _mount_vendor(app)
    for module in (auth, pages, objects, reports, extract, links, tokens, admin, joint, pirs):
        app.include_router(module.router)
