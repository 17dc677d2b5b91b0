"""Administration for node admins: organisations, users, sharing groups, collection grants, the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.accounts import service as accounts
from accord.api.deps import read_conn
from accord.audit.service import list_entries, verify
from accord.core.db import get_engine, transaction
from accord.core.errors import BadRequest, Forbidden
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.web.render import page
from accord.web.session import check_csrf, web_principal

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 100


async def admin_user(principal: Principal = Depends(web_principal)) -> Principal:
    """The signed-in user, who must be a node admin."""
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
    return principal


@router.get("/admin")
def admin_home(
    request: Request, principal: Principal = Depends(admin_user), conn: Connection = Depends(read_conn)
) -> HTMLResponse:
    """Organisations, users and sharing groups."""
    return page(
        request,
        "admin.html",
        principal,
        orgs=accounts.list_orgs(conn),
        users=accounts.list_users(conn),
        groups=accounts.list_groups(conn),
    )


@router.get("/admin/collections")
def admin_collections(
    request: Request, principal: Principal = Depends(admin_user), conn: Connection = Depends(read_conn)
) -> HTMLResponse:
    """Collections with their read and write grants, and a form to change them."""
    rows = [(c, accounts.collection_grants(conn, c.id)) for c in accounts.list_collections(conn)]
    return page(request, "collections.html", principal, collections=rows)


@router.post("/admin/collections/grants")
async def change_grant(request: Request, principal: Principal = Depends(admin_user)) -> Response:
    """Give or take away one organisation's or group's read or write access to a collection."""
    form = await check_csrf(request)
    if principal.read_only:
        raise Forbidden("this session is read-only")
    alias, who, mode = form.get("alias", ""), form.get("who", "").strip(), form.get("mode", "")
    if mode not in ("read", "write") or not who:
        raise BadRequest("choose read or write and name an organisation or group:NAME")
    grant = form.get("action") != "revoke"

    def write() -> None:
        with transaction(get_engine()) as conn:
            accounts.change_grants(
                conn,
                alias,
                readers=[who] if mode == "read" else [],
                writers=[who] if mode == "write" else [],
                grant=grant,
                actor=principal.email,
            )

    await run_in_threadpool(write)
    return RedirectResponse("/admin/collections", status_code=303)


@router.get("/admin/audit")
def admin_audit(
    request: Request,
    after: str | None = None,
    check: bool = False,
    principal: Principal = Depends(admin_user),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """The audit log, oldest first, a page at a time; `check` walks the hash chain (verify)."""
    bound = cursors.binding(principal, "web:audit", None)
    after_seq = 0 if after is None else cursors.read_cursor(after, bound, param="after")
    entries = list(list_entries(conn, after_seq=after_seq, limit=AUDIT_PAGE + 1))
    following = cursors.make_cursor(entries[AUDIT_PAGE - 1]["seq"], bound) if len(entries) > AUDIT_PAGE else None
    return page(
        request,
        "audit.html",
        principal,
        entries=entries[:AUDIT_PAGE],
        next=following,
        verification=verify(conn) if check else None,
    )
