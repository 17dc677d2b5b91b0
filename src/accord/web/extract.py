"""Extraction review: paste text, upload a file or give a URL; review the findings; untick; publish the draft.

The same services as the REST draft API (accord.extract): the draft is created, reviewed and published by
`drafts.create_draft`, `drafts.exclude` and `drafts.publish`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from accord.accounts import service as accounts
from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import BadRequest, Forbidden, PayloadTooLarge
from accord.core.settings import get_settings
from accord.extract import drafts
from accord.extract.service import extract_document, fetch_document
from accord.sharing.policy import Principal
from accord.stix.markings import Tlp
from accord.store.derived import id_seed
from accord.web.render import page
from accord.web.session import check_csrf, web_principal

router = APIRouter(include_in_schema=False)


def _writable(principal: Principal) -> list[Any]:
    with read_transaction(get_engine()) as conn:
        return [c for c in accounts.list_collections(conn) if c.id in principal.writable_collections]


def highlighted(text: str, findings: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    """The text cut into pieces, each either plain (None) or the finding it shows (its index)."""
    pieces: list[tuple[str, int | None]] = []
    at = 0
    spans = sorted((f["start"], f["end"], n) for n, f in enumerate(findings) if isinstance(f.get("start"), int))
    for start, end, n in spans:
        if start < at or end > len(text):
            continue  # overlapping or outside the text: the finding's list entry still shows it
        pieces.append((text[at:start], None))
        pieces.append((text[start:end], n))
        at = end
    pieces.append((text[at:], None))
    return [p for p in pieces if p[0]]


@router.get("/extract")
def extract_page(request: Request, principal: Principal = Depends(web_principal)) -> HTMLResponse:
    """The form: paste, upload or URL; and your organisation's recent drafts."""
    with read_transaction(get_engine()) as conn:
        recent = drafts.list_drafts(conn, principal, status=None, limit=20)
    return page(request, "extract.html", principal, recent=recent)


@router.post("/extract")
async def extract(request: Request, principal: Principal = Depends(web_principal)) -> Response:
    """Extract the findings of the pasted text, uploaded file or URL into a draft and show it for review."""
    if not principal.can_write:
        raise Forbidden("this account cannot write")
    limit = get_settings().extract_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 65_536:
        raise PayloadTooLarge(f"the upload exceeds the limit ({limit} bytes)")
    fields = await check_csrf(request)
    upload = request.state.form.get("file")
    title = fields.get("title", "").strip() or None
    text = fields.get("text", "").replace("\r\n", "\n")  # browsers send a textarea's lines with CRLF
    url = fields.get("url", "").strip()
    shown: str | None = None
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        content_type = upload.content_type if upload.content_type != "application/octet-stream" else None
        filename: str | None = upload.filename
        if (content_type or "").startswith("text/plain") or (filename or "").endswith(".txt"):
            shown = data.decode("utf-8", "replace")
    elif text.strip():
        data, content_type, filename, shown = text.encode(), "text/plain", None, text
    elif url:
        data, content_type = await run_in_threadpool(
            fetch_document, url, allow_private=get_settings().extract_allow_private
        )
        filename = url.split("?", 1)[0].rsplit("/", 1)[-1] or None
    else:
        raise BadRequest("paste some text, choose a file or give a URL")
    if len(data) > limit:
        raise PayloadTooLarge(f"the document exceeds the limit ({limit} bytes)")

    def create() -> dict[str, Any]:
        engine = get_engine()
        with read_transaction(engine) as conn:
            identity = accounts.get_org(conn, principal.org_id).stix_id
            seed = id_seed(conn, principal.org_id)
        extraction = extract_document(
            data, content_type=content_type, filename=filename, title=title, created_by_ref=identity, id_seed=seed
        )
        with transaction(engine) as conn:
            return drafts.create_draft(conn, principal, extraction)

    draft = await run_in_threadpool(create)
    pieces = highlighted(shown, draft["findings"]) if shown is not None else None
    return page(
        request, "draft.html", principal, draft=draft, pieces=pieces, writable=_writable(principal), outcome=None
    )


@router.get("/extract/drafts/{draft_id}")
def draft_page(
    request: Request,
    draft_id: str,
    stored: int | None = None,
    refused: int | None = None,
    tlp: str = "",
    principal: Principal = Depends(web_principal),
) -> HTMLResponse:
    """One of your organisation's drafts, for review (another organisation's is not found)."""
    with read_transaction(get_engine()) as conn:
        draft = drafts.get_draft_or_raise(conn, principal, draft_id)
    marked = _tlp_choice(tlp) if tlp else None
    outcome = (
        {"stored": stored, "refused": refused, "tlp": marked.label if marked else None} if stored is not None else None
    )
    return page(
        request, "draft.html", principal, draft=draft, pieces=None, writable=_writable(principal), outcome=outcome
    )


@router.post("/extract/drafts/{draft_id}/publish")
async def publish(request: Request, draft_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Drop the unticked findings, then store the draft into the chosen collection (one transaction)."""
    await check_csrf(request)
    form = request.state.form
    kept = set(form.getlist("keep"))
    collection = str(form.get("collection") or "")
    tlp = _tlp_choice(str(form.get("tlp") or ""))

    def write() -> dict[str, Any]:
        with transaction(get_engine()) as conn:
            draft = drafts.get_draft_or_raise(conn, principal, draft_id)
            dropped = [f["value"] for f in draft["findings"] if f["value"] not in kept]
            if dropped:
                drafts.exclude(conn, principal, draft_id, dropped)
            return drafts.publish(conn, principal, draft_id, collection, tlp=tlp)

    result = await run_in_threadpool(write)
    marked = f"&tlp={quote(tlp.label)}" if tlp is not None else ""
    return RedirectResponse(
        f"/extract/drafts/{quote(draft_id)}?stored={int(result['stored'])}&refused={int(result['refused'])}{marked}",
        status_code=303,
    )


def _tlp_choice(text: str) -> Tlp | None:
    """The TLP chosen at publish ('' keeps the objects unmarked: the node's default TLP applies)."""
    if not text:
        return None
    try:
        return Tlp.parse(text)
    except ValueError as exc:
        raise BadRequest(f"TLP: {exc}") from exc
