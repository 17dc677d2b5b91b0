"""TAXII 2.1 routes under /taxii2/: discovery, API roots, collections, objects, manifest, versions, status."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from accord.api.deps import WRITE_CONN, current_principal, read_body, read_conn, snapshot
from accord.api.errors import render_error, taxii_response
from accord.api.lifespan import run_during_lifespan
from accord.core.db import get_engine
from accord.core.errors import Forbidden, UnsupportedMediaType
from accord.core.keys import SIGNATURE_HEADER
from accord.core.perf import LARGE_BODY_BYTES, gc_paused, release_memory_soon
from accord.core.settings import get_settings
from accord.federation.links import inbound_link, signature_refusal
from accord.sharing.policy import Principal
from accord.taxii import service, writes
from accord.taxii.envelope import Envelope
from accord.taxii.filters import Endpoint, parse_filters
from accord.taxii.media import TAXII_MEDIA, acceptable, is_taxii_content_type

router = APIRouter(prefix="/taxii2", include_in_schema=False)
COLL = "/{root}/collections/{collection_id}"


def _taxii(body: bytes | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return taxii_response(body if isinstance(body, bytes) else orjson.dumps(body), status, headers)


def _error(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"title": title, "description": message, "http_status": str(status)}
    return _taxii(body, status, headers)


class TaxiiMiddleware:
    """Before routing: redirect URLs without the trailing slash (308) and refuse unproducible Accept (406)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/taxii2" or path.startswith("/taxii2/")):
            await self.app(scope, receive, send)
            return
        if not path.endswith("/"):
            query = scope.get("query_string", b"").decode("latin-1")
            location = path + "/" + (f"?{query}" if query else "")
            response = _error(308, "Permanent Redirect", f"TAXII URLs end in '/': {location}", {"Location": location})
            await response(scope, receive, send)
            return
        accept = None
        for key, value in scope.get("headers", []):
            if key == b"accept":
                accept = value.decode("latin-1") if accept is None else f"{accept},{value.decode('latin-1')}"
        if not acceptable(accept):
            message = f"this server produces only {TAXII_MEDIA}"
            await _error(406, "Not Acceptable", message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


# Reads open their snapshot inside the (threadpool) handler rather than through a generator dependency: each
# sync dependency costs two extra thread hops per request, which a page of 1,000 objects notices.


@router.get("/")
async def discovery(_: Principal = Depends(current_principal)) -> Response:
    """The discovery resource."""
    return _taxii(service.discovery())


@router.get("/{root}/")
async def api_root(root: str, _: Principal = Depends(current_principal)) -> Response:
    """An API root resource."""
    return _taxii(service.api_root(root))


@router.get("/{root}/status/{status_id}/")
def get_status(
    root: str, status_id: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """A status resource of the caller's organisation."""
    service.require_root(root)
    return _taxii(writes.get_status(conn, principal, status_id))


@router.get("/{root}/collections/")
def list_collections(
    root: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """The collections this caller may read or write."""
    service.require_root(root)
    return _taxii(service.collections(conn, principal))


@router.get(COLL + "/")
def get_collection(
    root: str,
    collection_id: str,
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """One collection."""
    service.require_root(root)
    return _taxii(service.collection_resource(conn, principal, collection_id))


def _page(
    request: Request,
    conn: Connection,
    principal: Principal,
    root: str,
    collection_id: str,
    endpoint: Endpoint,
    object_id: str | None = None,
) -> Response:
    service.require_root(root)
    filters = parse_filters(request.query_params.multi_items(), endpoint)
    page = service.read_page(conn, principal, collection_id, filters, endpoint, object_id)
    return _taxii(page.body, headers=page.headers())


@router.get(COLL + "/manifest/")
def get_manifest(
    request: Request,
    root: str,
    collection_id: str,
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """Manifest entries of the readable objects, oldest date_added first."""
    return _page(request, conn, principal, root, collection_id, Endpoint.MANIFEST)


@router.get(COLL + "/objects/")
def get_objects(
    request: Request,
    root: str,
    collection_id: str,
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """An envelope of the readable objects, oldest date_added first."""
    return _page(request, conn, principal, root, collection_id, Endpoint.OBJECTS)


@router.get(COLL + "/objects/{object_id}/")
def get_object(
    request: Request,
    root: str,
    collection_id: str,
    object_id: str,
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """An envelope of one object's readable versions."""
    return _page(request, conn, principal, root, collection_id, Endpoint.OBJECT, object_id)


@router.get(COLL + "/objects/{object_id}/versions/")
def get_versions(
    request: Request,
    root: str,
    collection_id: str,
    object_id: str,
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """The readable versions of one object, oldest date_added first."""
    return _page(request, conn, principal, root, collection_id, Endpoint.VERSIONS, object_id)


@router.delete(COLL + "/objects/{object_id}/")
def delete_object(
    request: Request,
    root: str,
    collection_id: str,
    object_id: str,
    principal: Principal = Depends(current_principal),
    conn: Connection = WRITE_CONN,
) -> Response:
    """Remove an object's matching versions from the collection (owner organisation or admin)."""
    service.require_root(root)
    filters = parse_filters(request.query_params.multi_items(), Endpoint.DELETE)
    writes.delete_object(conn, principal, collection_id, object_id, filters)
    return _taxii(b"{}")


def _check_writable(principal: Principal, collection_id: str) -> None:
    """Forbidden unless the caller may write the collection."""
    with snapshot() as conn:
        row = service.get_collection(conn, principal, collection_id)
        if not service.may_write(principal, row.id):
            raise Forbidden("you may not write into this collection")


async def posted_envelope(
    request: Request, root: str, collection_id: str, principal: Principal = Depends(current_principal)
) -> bytes:
    """A POSTed envelope's body, after the checks that come before the upload is read: the API root, write access,
    the media type, and the size limit (while it is read)."""
    service.require_root(root)
    await run_in_threadpool(_check_writable, principal, collection_id)
    if not is_taxii_content_type(request.headers.get("content-type")):
        raise UnsupportedMediaType(f"POST bodies must be {TAXII_MEDIA}")
    return await read_body(request, get_settings().taxii_max_content_length, "max_content_length")


@router.post(COLL + "/objects/")
def add_objects(
    request: Request,
    collection_id: str,
    principal: Principal = Depends(current_principal),
    body: bytes = Depends(posted_envelope),
    conn: Connection = WRITE_CONN,
) -> Response:
    """Add an envelope of objects; answers 202 with a status resource (committed before it is sent)."""
    # The unit of work opens once the body is in (after posted_envelope): a slow upload holds no write lock.
    # A peer's link is looked up once, in this unit of work, and both checks its signature and carries the write:
    # no change to the link can fall between the check and the write.
    link = inbound_link(conn, principal)
    refusal = signature_refusal(conn, link, principal, body, request.headers.get(SIGNATURE_HEADER))
    if refusal is not None:  # answered, not raised: the unit of work commits the refusal's audit, and only that
        return render_error(request, refusal.status, refusal.message)
    with gc_paused():  # a parsed envelope is acyclic: collector passes over it are pure cost
        # A large envelope is read in slices, never parsed whole (accord.taxii.envelope).
        envelope = Envelope.read(body, get_settings().taxii_envelope_slice_bytes)
        status = writes.add_objects(conn, principal, collection_id, envelope, link)
        # Freed while the collector still pauses: alive when it resumes, the envelope's objects would all be in
        # its youngest generation, and its first pass would walk them.
        del envelope
    if len(body) > LARGE_BODY_BYTES:  # its parsed objects are freed now: give their pages back (docs/limits.md)
        release_memory_soon()
    return _taxii(status, 202)


def _with_job_runner(app: FastAPI) -> None:
    """Run queued jobs in a background thread for the server's lifetime (unless ACCORD_RUN_JOBS=0)."""

    def start() -> Callable[[], None] | None:
        if not get_settings().run_jobs:
            return None
        from accord.worker.runner import run_forever

        stop = threading.Event()
        thread = threading.Thread(target=run_forever, args=(get_engine(), stop), name="accord-jobs", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(30)

        return halt

    run_during_lifespan(app, start)


def register(app: FastAPI) -> None:
    """Mount the TAXII 2.1 server on the application."""
    app.add_middleware(TaxiiMiddleware)
    app.include_router(router)
    _with_job_runner(app)
