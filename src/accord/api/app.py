"""The ASGI application: REST under /api/v1/, TAXII 2.1 under /taxii2/, UI at /, health at /healthz."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.api.errors import render_error
from accord.core.db import lock_timed_out
from accord.core.errors import AccordError, ServiceUnavailable

# Seconds a client is asked to wait before sending a write again that met another writer's lock: the lock
# was held for the whole lock timeout already, so by then it is most likely free, or a short wait again.
BUSY_RETRY_AFTER = 5


def busy_refusal(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for a database error that says another writer held a lock too long; None for any other error."""
    if not lock_timed_out(exc):
        return None
    return ServiceUnavailable("the database is busy with other writes; nothing was stored: try again", BUSY_RETRY_AFTER)


def create_app() -> FastAPI:
    """Build the application (uvicorn factory)."""
    from accord.web.errors import error_page, is_console  # console pages answer errors in HTML

    app = FastAPI(
        title="Accord",
        version="0.1.0",
        description="Federated threat-intelligence sharing over STIX 2.1 and TAXII 2.1.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the web console serves Swagger UI from the node itself (no CDN)
        redoc_url=None,
    )

    @app.exception_handler(AccordError)
    async def _accord_error(request: Request, exc: AccordError) -> Response:
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        if is_console(request):
            return await error_page(request, exc.status, exc.message, headers=headers)
        return render_error(request, exc.status, exc.message, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_console(request):
            return await error_page(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
        return render_error(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        if is_console(request):
            return await error_page(request, 422, f"{first.get('loc', ('',))[-1]}: {first.get('msg', 'invalid')}")
        return render_error(request, 422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(DataError)
    @app.exception_handler(psycopg.DataError)
    async def _data_error(request: Request, exc: Exception) -> Response:
        # A value the database cannot hold (the request checks should have caught it): the caller's input.
        cause = getattr(exc, "orig", None) or exc
        return render_error(request, 400, f"the database refused a value: {str(cause).splitlines()[0]}")

    @app.exception_handler(OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(sqlite3.OperationalError)
    async def _database_error(request: Request, exc: Exception) -> Response:
        busy = busy_refusal(exc)  # rolled back with its unit of work: the request may simply be sent again
        if busy is not None:
            return await _accord_error(request, busy)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        import logging

        busy = busy_refusal(exc)  # raised in a middleware (authentication), outside the handlers above
        if busy is not None:
            return await _accord_error(request, busy)
        logging.getLogger("accord").exception("unhandled error on %s", request.url.path)
        if is_console(request):
            return await error_page(request, 500, "internal error (the node's log has the details)")
        return render_error(request, 500, "internal error")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        from sqlalchemy import text

        from accord.core.db import get_engine

        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    from accord.api import rest
    from accord.api.authfirst import AuthBeforeBody
    from accord.api.nul import NulGuard

    app.add_middleware(NulGuard)
    app.add_middleware(AuthBeforeBody)  # outside NulGuard: credentials are verified before a body is read
    app.include_router(rest.router)
    from accord.api.headers import SecurityHeaders

    _include_routers(app)
    _with_checkpointer(app)
    _with_helpers(app)
    _with_memory_trim(app)
    from accord.api.limits import RequestLimits

    app.add_middleware(RequestLimits)  # before authentication, bodies and routing
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors included
    return app


HELPERS_READY_TIMEOUT = 30.0  # seconds a starting server waits for a warmed-up helper before serving without one


def _with_helpers(app: FastAPI) -> None:
    """Under `accord serve`, start the helper processes with the server and serve once one has warmed up.

    A helper needs a while to import and load the warninglists. A server that answered before that prepared its
    first large envelopes alone, each slower (bench/bench_taxii.py shows the helper's share), so /healthz
    answering now means the node runs at full speed.
    """
    import logging

    from accord.api.lifespan import run_during_lifespan
    from accord.core import helpers
    from accord.core.settings import get_settings

    def start() -> Callable[[], None] | None:
        if not get_settings().start_helpers:  # tests and embedders start them on first need
            return None
        if not helpers.wait_ready(HELPERS_READY_TIMEOUT) and helpers.helper_count() > 0:
            logging.getLogger("accord").warning(
                "no helper process was ready after %.0f s; large envelopes are prepared in this process meanwhile",
                HELPERS_READY_TIMEOUT,
            )
        return helpers.shutdown

    run_during_lifespan(app, start)


def _with_memory_trim(app: FastAPI) -> None:
    """Under `accord serve`, keep the server's heap from growing under sustained concurrent writes: two malloc
    arenas shared by the thread pool, and freed pages given back every half minute (docs/limits.md, "Memory")."""
    from accord.api.lifespan import run_during_lifespan
    from accord.core.perf import limit_malloc_arenas, start_memory_trimmer
    from accord.core.settings import get_settings

    def start() -> Callable[[], None] | None:
        if not get_settings().start_helpers:  # tests and embedders keep their process's allocator as it is
            return None
        limit_malloc_arenas()
        return start_memory_trimmer()

    run_during_lifespan(app, start)


def _with_checkpointer(app: FastAPI) -> None:
    """On SQLite, copy the write-ahead log back from a background thread for the server's lifetime."""
    from accord.api.lifespan import run_during_lifespan
    from accord.core.db import background_checkpointer, get_engine

    def start() -> Callable[[], None] | None:
        checkpointer = background_checkpointer(get_engine())
        return checkpointer.stop if checkpointer is not None else None

    run_during_lifespan(app, start)


def _include_routers(app: FastAPI) -> None:
    """The routers of the features: TAXII, extraction, correlation, stream, federation, feeds, exports, joint
    work, search and the UI."""
    from accord.api import correlate, exports, extract, federation, feeds, joint, search, stream, taxii, webhooks
    from accord.web import routes as web

    taxii.register(app)
    extract.register(app)
    correlate.register(app)
    stream.register(app)
    federation.register(app)
    feeds.register(app)
    exports.register(app)
    joint.register(app)
    webhooks.register(app)
    app.include_router(search.router)
    web.register(app)
