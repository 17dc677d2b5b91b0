"""Administration for node admins: organisations, users, sharing groups, collection grants, the audit log."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.accounts import service as accounts
from accord.api.deps import read_conn
from accord.audit.service import list_entries, verify
from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import AccordError, BadRequest, Forbidden
from accord.sharing import cursors
from accord.sharing.policy import Principal, Role
from accord.web.render import page
from accord.web.session import check_csrf, web_principal

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 100


async def admin_user(principal: Principal = Depends(web_principal)) -> Principal:
    """The signed-in user, who must be a node admin."""
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
    return principal


def _admin_page(
    request: Request,
    principal: Principal,
    conn: Connection,
    *,
    status: int = 200,
    error: str | None = None,
    created: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "admin.html",
        principal,
        status=status,
        orgs=accounts.list_orgs(conn),
        users=accounts.list_users(conn),
        groups=accounts.list_groups(conn),
        roles=[r.value for r in Role],
        error=error,
        created=created,
        form=form or {},
    )


@router.get("/admin")
def admin_home(
    request: Request,
    org: str = "",
    user: str = "",
    principal: Principal = Depends(admin_user),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """Organisations, users and sharing groups, and forms to create organisations and users."""
    # After a creation: confirm it by name, only for one that exists (the query cannot put words on the page).
    created = None
    if org and accounts.get_org_by_name(conn, org) is not None:
        created = f"Organisation {org} created."
    elif user and accounts.get_user_by_email(conn, user) is not None:
        created = f"User {user} created."
    return _admin_page(request, principal, conn, created=created)


async def _create(
    request: Request, principal: Principal, make: Callable[[Connection, dict[str, str]], dict[str, str]]
) -> Response:
    """Run one creation through the administration service (as the CLI does); a refusal re-renders the form."""
    form = await check_csrf(request)
    if principal.read_only:
        raise Forbidden("this session is read-only")

    def write() -> Response:
        try:
            with transaction(get_engine()) as conn:
                done = make(conn, form)
        except AccordError as exc:
            with read_transaction(get_engine()) as conn:
                shown = {k: v for k, v in form.items() if k not in ("csrf", "password")}
                return _admin_page(request, principal, conn, status=exc.status, error=exc.message, form=shown)
        return RedirectResponse(f"/admin?{urlencode(done)}", status_code=303)

    return await run_in_threadpool(write)


@router.post("/admin/orgs")
async def create_org(request: Request, principal: Principal = Depends(admin_user)) -> Response:
    """Create an organisation (with its STIX identity), as `accord org create` does."""

    def make(conn: Connection, form: dict[str, str]) -> dict[str, str]:
        row = accounts.create_org(conn, form.get("name", ""), actor=principal.email)
        return {"org": row.name}

    return await _create(request, principal, make)


@router.post("/admin/users")
async def create_user(request: Request, principal: Principal = Depends(admin_user)) -> Response:
    """Create a user of an organisation with a role, as `accord user create` does."""

    def make(conn: Connection, form: dict[str, str]) -> dict[str, str]:
        password = form.get("password") or None
        row = accounts.create_user(
            conn, form.get("email", ""), form.get("org", ""), form.get("role", ""), password, actor=principal.email
        )
        return {"user": row.email}

    return await _create(request, principal, make)


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
