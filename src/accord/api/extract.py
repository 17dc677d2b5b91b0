"""REST routes of extraction: upload or fetch a report, review the draft it becomes, publish it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from pydantic import Field
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from accord.api.deps import (
    WRITE_CONN,
    current_principal,
    read_body,
    read_conn,
    snapshot,
    unit_of_work,
    writer_principal,
)
from accord.api.schemas import Body
from accord.core.errors import BadRequest, UnsupportedMediaType
from accord.core.settings import get_settings
from accord.extract import drafts
from accord.extract.service import extract_document, fetch_document
from accord.sharing.policy import Principal
from accord.stix.markings import Tlp
from accord.store.derived import id_seed
from accord.store.repository import org_identity

router = APIRouter(prefix="/api/v1/extract", tags=["extraction"])

DOCUMENT_TYPES = ("text/plain", "text/html", "application/xhtml+xml", "application/pdf")
_ACCEPTED = ", ".join((*DOCUMENT_TYPES, "application/json (url)", "multipart/form-data (file)"))


class UrlRequest(Body):
    url: str = Field(description="an http(s) URL of a text, HTML or PDF report on a public address")
    title: str | None = Field(default=None, description="report name (default: the document's title)")


class ReviewRequest(Body):
    exclude: list[str] = Field(description="STIX ids of bundle objects, or finding values, to drop", max_length=10_000)


class PublishRequest(Body):
    collection: str = Field(description="alias of a collection you may write into")
    tlp: str | None = Field(
        default=None,
        description="TLP to mark every object with (clear, green, amber, amber+strict, red); "
        "default: unmarked (the node's default TLP applies)",
    )


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


async def _multipart(request: Request, body: bytes) -> tuple[bytes, str | None, str | None, str | None]:
    """(data, content type, file name, title) of the `file` part of an already size-checked form body."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest("the form needs a `file` part with the document")
        title = form.get("title")
        content_type = upload.content_type
        if content_type and content_type.split(";", 1)[0].strip().lower() == "application/octet-stream":
            content_type = None  # let the document's name and content decide
        data = await upload.read()
        return data, content_type, upload.filename, title if isinstance(title, str) else None
    finally:
        await form.close()


def _create(
    principal: Principal, data: bytes, content_type: str | None, filename: str | None, title: str | None
) -> Any:
    # The request's two units of work, as read_conn and WRITE_CONN give them, opened here around the extraction:
    # seconds of it must hold neither a snapshot nor the write lock (see accord.api.deps.unit_of_work).
    with snapshot() as conn:
        identity = org_identity(conn, principal.org_id)
        seed = id_seed(conn, principal.org_id)
    extraction = extract_document(
        data, content_type=content_type, filename=filename, title=title, created_by_ref=identity, id_seed=seed
    )
    with unit_of_work() as conn:
        return drafts.create_draft(conn, principal, extraction)


def _from_url(principal: Principal, body: bytes) -> Any:
    try:
        form = UrlRequest.model_validate_json(body)
    except ValueError:
        raise BadRequest('the JSON body must be {"url": "https://...", "title": optional}') from None
    data, content_type = fetch_document(form.url, allow_private=get_settings().extract_allow_private)
    filename = form.url.split("?", 1)[0].rsplit("/", 1)[-1] or None
    return _create(principal, data, content_type, filename, form.title)


def _upload_schema() -> dict[str, Any]:
    """The request bodies POST /extract reads itself (so that the size limit applies while reading)."""
    document = {"schema": {"type": "string", "format": "binary"}}
    form = {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}, "title": {"type": "string"}},
            "required": ["file"],
        }
    }
    content: dict[str, Any] = dict.fromkeys(DOCUMENT_TYPES, document)
    content["application/json"] = {"schema": UrlRequest.model_json_schema()}
    content["multipart/form-data"] = form
    return {"requestBody": {"required": True, "content": content}}


@router.post("", status_code=201, openapi_extra=_upload_schema())
async def extract(
    request: Request,
    title: str | None = Query(default=None, max_length=500, description="report name (default: document title)"),
    principal: Principal = Depends(writer_principal),
) -> Response:
    """Extract indicators from an uploaded (or fetched) text, HTML or PDF report and save them as a draft."""
    media = _media_type(request)
    if media not in (*DOCUMENT_TYPES, "application/json", "multipart/form-data"):
        raise UnsupportedMediaType(f"send one of: {_ACCEPTED}")
    body = await read_body(request, get_settings().extract_max_bytes, "the upload limit")
    if not body.strip():
        raise BadRequest("the request body is empty")
    if media == "application/json":
        draft = await run_in_threadpool(_from_url, principal, body)
    elif media == "multipart/form-data":
        data, content_type, filename, form_title = await _multipart(request, body)
        draft = await run_in_threadpool(_create, principal, data, content_type, filename, title or form_title)
    else:
        draft = await run_in_threadpool(_create, principal, body, request.headers.get("content-type"), None, title)
    return _json(draft, 201)


@router.get("/drafts")
def list_drafts(
    status: str | None = Query(default=None, description="draft or published"),
    limit: int = Query(default=100, ge=1, le=drafts.MAX_LIST),
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """Your organisation's extraction drafts, newest first (without findings and bundles)."""
    return _json({"drafts": drafts.list_drafts(conn, principal, status=status, limit=limit)})


@router.get("/drafts/{draft_id}")
def get_draft(
    draft_id: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """One draft of your organisation with its findings and bundle; 404 for anyone else's."""
    return _json(drafts.get_draft_or_raise(conn, principal, draft_id))


@router.patch("/drafts/{draft_id}")
def review_draft(
    draft_id: str,
    body: ReviewRequest,
    principal: Principal = Depends(writer_principal),
    conn: Connection = WRITE_CONN,
) -> Response:
    """Drop findings (by value) or objects (by STIX id) from a draft before publishing it."""
    return _json(drafts.exclude(conn, principal, draft_id, body.exclude))


@router.post("/drafts/{draft_id}/publish")
def publish_draft(
    draft_id: str,
    body: PublishRequest,
    principal: Principal = Depends(writer_principal),
    conn: Connection = WRITE_CONN,
) -> Response:
    """Store a draft's bundle into a collection you may write (normal rules, audited); only once."""
    return _json(drafts.publish(conn, principal, draft_id, body.collection, tlp=parse_tlp_or_none(body.tlp)))


def parse_tlp_or_none(text: str | None) -> Tlp | None:
    """A TLP level named in a request, None when not given; BadRequest when unknown."""
    if text is None or not text.strip():
        return None
    try:
        return Tlp.parse(text)
    except ValueError as exc:
        raise BadRequest(f"tlp: {exc}") from exc


def register(app: FastAPI) -> None:
    """Mount the extraction routes."""
    app.include_router(router)
