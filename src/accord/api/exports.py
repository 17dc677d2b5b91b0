"""GET /api/v1/exports/{format}, and a MISP feed under /api/v1/exports/misp-feed/{collection}/ (through the policy).

Each answer streams from one read snapshot and carries an ETag and Last-Modified derived from the node clock
and the caller's grants (accord.exports.service.validator), so a poll with If-None-Match or If-Modified-Since
is answered 304 after one small read, without generating the export.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.api.deps import current_principal
from accord.core.db import get_engine, read_transaction
from accord.exports import service
from accord.exports.service import ExportRequest, Prepared
from accord.sharing.policy import Principal

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

_TYPE_HELP = "value kinds, comma-separated (ip, cidr, domain, url, md5, sha1, sha256, email, ...)"


def _not_modified(request: Request, etag: str, last_modified: int) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        return etag in [t.strip() for t in match.split(",")] or match.strip() == "*"
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return last_modified <= int(parsedate_to_datetime(since).timestamp())
        except (TypeError, ValueError):
            return False
    return False


def _http_date(seconds: int) -> str:
    from datetime import UTC, datetime

    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


def _answer(
    request: Request,
    principal: Principal,
    req: ExportRequest,
    body: Callable[[Connection, Prepared], Iterator[bytes]],
    media_type: str | None = None,
) -> Response:
    """Validate, answer 304 when the client's copy is current, else stream `body` from one snapshot."""
    stack = contextlib.ExitStack()
    try:
        conn = stack.enter_context(read_transaction(get_engine()))
        prep = service.prepare(conn, principal, req)
        etag, last_modified = service.validator(conn, principal, prep)
        headers = {"ETag": etag, "Last-Modified": _http_date(last_modified), "Cache-Control": "private, no-cache"}
        if _not_modified(request, etag, last_modified):
            stack.close()
            return Response(status_code=304, headers=headers)
        chunks = body(conn, prep)
    except BaseException:
        stack.close()
        raise

    def streamed() -> Iterator[bytes]:
        with stack:
            yield from chunks

    return StreamingResponse(streamed(), media_type=media_type or prep.media_type, headers=headers)


@router.get("/misp-feed/{collection}/manifest.json")
def misp_feed_manifest(
    collection: str, request: Request, principal: Principal = Depends(current_principal)
) -> Response:
    """The MISP feed of a collection: its manifest (one event per day objects were added)."""
    req = ExportRequest("misp", collection=collection, group="day", warninglists="mark")
    return _answer(
        request,
        principal,
        req,
        lambda c, p: iter([orjson.dumps(service.feed_manifest(c, principal, p))]),
        "application/json",
    )


@router.get("/misp-feed/{collection}/hashes.csv")
def misp_feed_hashes(collection: str, request: Request, principal: Principal = Depends(current_principal)) -> Response:
    """The MISP feed's hashes.csv: MD5 of each attribute value, with its event uuid."""
    req = ExportRequest("misp", collection=collection, group="day", warninglists="mark")
    return _answer(request, principal, req, lambda c, p: service.feed_hashes(c, principal, p), "text/csv")


@router.get("/misp-feed/{collection}/{event}.json")
def misp_feed_event(
    collection: str, event: str, request: Request, principal: Principal = Depends(current_principal)
) -> Response:
    """One event of the MISP feed."""
    req = ExportRequest("misp", collection=collection, group="day", warninglists="mark")
    return _answer(
        request, principal, req, lambda c, p: service.feed_event(c, principal, p, event.lower()), "application/json"
    )


@router.get("/{fmt}")
async def export(
    fmt: str,
    request: Request,
    collection: str | None = Query(None, description="collection alias or id (default: all you may read)"),
    type: str | None = Query(None, description=_TYPE_HELP),
    since: str | None = Query(None, description="objects added since (STIX timestamp or YYYY-MM-DD)"),
    min_score: float | None = Query(None, description="only values of at least this decayed score (0-100)"),
    warninglists: str = Query("omit", description="values on warninglists: omit or mark"),
    columns: str | None = Query(None, description="csv: columns, comma-separated"),
    report: str | None = Query(None, description="stix, misp: one report and what it references"),
    group: str = Query("report", description="misp: one event per report, or per day"),
    principal: Principal = Depends(current_principal),
) -> Response:
    """One export format (stix, misp, csv, blocklist, suricata, rpz) of what the caller may read."""
    req = ExportRequest(fmt, collection, type, since, min_score, warninglists, columns, report, group)

    def run() -> Response:
        return _answer(request, principal, req, lambda c, p: service.stream(c, principal, p))

    return await run_in_threadpool(run)


def register(app: FastAPI) -> None:
    """Mount the export routes."""
    app.include_router(router)


__all__: list[Any] = ["register", "router"]
