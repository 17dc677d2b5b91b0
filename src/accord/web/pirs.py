"""Joint intelligence requirements (PIRs): list, create, and a requirement's matches, through the policy.

The same services as the REST API (`accord.joint.pir`, as `api/joint.py` calls them): a requirement is readable by
its owner and participants only, and its matches list only the versions the reader may read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from accord.accounts import service as accounts
from accord.api.deps import read_conn
from accord.core.errors import BadRequest, NotFound
from accord.joint import objects as joint_objects
from accord.joint import pir
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.web import forms
from accord.web.joint import CASE_TLPS
from accord.web.render import NAV, NavItem, page
from accord.web.session import web_principal

router = APIRouter(include_in_schema=False)
PIRS_PAGE = 50
MATCHES_PAGE = 50
STATUS_CHOICES = ("", "active", "inactive")

if not any(item.path == "/pirs" for item in NAV):  # after the requests, with the other joint-work pages
    NAV.insert(next(i for i, item in enumerate(NAV) if item.path == "/rfis") + 1, NavItem("Requirements", "/pirs"))


def _terms(text: str) -> list[str]:
    """Criterion terms: one per line or comma-separated."""
    return forms.names(text)


@router.get("/pirs")
def pirs_page(
    request: Request,
    status: str = "",
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """Requirements owned by or shared with the user's organisation, newest first; a form to create one."""
    if status not in STATUS_CHOICES:
        raise BadRequest(f"status is one of {', '.join(s for s in STATUS_CHOICES if s)}")

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return pir.list_pirs(conn, principal, before_id=position, limit=n, status=status or None)

    pirs, following = cursors.keyset_page(principal, "web:pirs", status, after, PIRS_PAGE, fetch)
    return page(
        request,
        "pirs.html",
        principal,
        pirs=pirs,
        next=following,
        shown_status=status,
        tlps=CASE_TLPS,
        criteria=joint_objects.PIR_CRITERIA,
    )


@router.post("/pirs")
async def create(request: Request, principal: Principal = Depends(web_principal)) -> Response:
    """Create a requirement owned by the user's organisation, shared with the participants named."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        created = pir.create_pir(
            conn,
            principal,
            title=form.get("title", ""),
            description=form.get("description", ""),
            participants=forms.names(form.get("participants", "")),
            tlp=form.get("tlp", "amber"),
            criteria={k: _terms(form.get(k, "")) for k in joint_objects.PIR_CRITERIA},
        )
        return f"/pirs/{created['id']}"

    return await forms.write(request, principal, action)


@router.get("/pirs/{pir_id}")
def pir_page(
    request: Request,
    pir_id: str,
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """A requirement, its criteria and participants, and what matched it (only what the user may read)."""
    try:
        found = pir.get_pir(conn, principal, pir_id)
    except NotFound:
        return page(request, "notfound.html", principal, status=404, what=pir_id)

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return pir.matches(conn, principal, pir_id, before_id=position, limit=n)

    matches, following = cursors.keyset_page(principal, "web:pir-matches", pir_id, after, MATCHES_PAGE, fetch)
    owner = found["owner"] == _org_name(conn, principal)
    return page(
        request,
        "pir.html",
        principal,
        pir=found,
        matches=matches,
        next=following,
        can_change=owner and principal.can_write,
    )


@router.post("/pirs/{pir_id}/status")
async def change_status(request: Request, pir_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Make a requirement active or inactive (its owning organisation only)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        pir.update_pir(conn, principal, pir_id, status=form.get("status", ""))
        return f"/pirs/{pir_id}"

    return await forms.write(request, principal, action)


def _org_name(conn: Connection, principal: Principal) -> str:
    return str(accounts.get_org(conn, principal.org_id).name)
