"""Joint work in the console: the cases board, case pages (tasks, timeline, links, comments), my tasks, requests
for information and notifications.

Every page and form calls the same accord.joint functions as the REST API (accord/api/joint.py), so the one
sharing policy decides every read and a case, task or request the user may not read is not found, exactly as
one that does not exist (R7, W3). Each write is audited by the service it calls.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.accounts import service as accounts
from accord.api.deps import read_conn
from accord.core.db import get_engine, read_transaction, transaction
from accord.core.errors import BadRequest, NotFound
from accord.joint import notify, objects, rfi, service, work
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.web import forms
from accord.web.render import BADGES, NAV, NavItem, page
from accord.web.session import check_csrf, web_principal
from accord.web.views import title_of, tlp_label

router = APIRouter(include_in_schema=False)

CASES_PAGE = 50
TIMELINE_PAGE = 100
LINKS_SHOWN = 200
TASKS_PAGE = 100
RFIS_PAGE = 50
FEED_PAGE = 50
CASE_TLPS = ("amber", "green", "clear")

_JOINT_NAV = [
    NavItem("Cases", "/cases"),
    NavItem("My tasks", "/tasks"),
    NavItem("Requests", "/rfis"),
    NavItem("Notifications", "/notifications"),
]
if not any(item.path == "/cases" for item in NAV):
    NAV[2:2] = _JOINT_NAV


def _unread(principal: Principal) -> int:
    with read_transaction(get_engine()) as conn:
        return notify.unread_count(conn, principal)


BADGES["/notifications"] = _unread


# --- cases -----------------------------------------------------------------------------------------------------


@router.get("/cases")
def cases_board(
    request: Request,
    status: str = "",
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """Readable cases, newest first, by status, a keyset page at a time; a form to open one."""
    wanted = status if status in objects.CASE_STATUSES else None

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return service.list_cases(conn, principal, before_id=position, limit=n, status=wanted)

    cases, following = cursors.keyset_page(principal, "web:cases", wanted, after, CASES_PAGE, fetch)
    return page(
        request,
        "cases.html",
        principal,
        cases=cases,
        selected=wanted or "",
        statuses=objects.CASE_STATUSES,
        next=following,
        tlps=CASE_TLPS,
        severities=objects.SEVERITIES,
    )


@router.post("/cases")
async def open_case(request: Request, principal: Principal = Depends(web_principal)) -> Response:
    """Open a case owned by the user's organisation."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        case = service.create_case(
            conn,
            principal,
            title=form.get("title", "").strip(),
            description=form.get("description", ""),
            severity=form.get("severity", "medium"),
            tlp=form.get("tlp", "amber"),
            participants=forms.names(form.get("participants", "")),
            object_ids=forms.ids(form.get("object_ids", "")),
        )
        return f"/cases/{case['id']}"

    return await forms.write(request, principal, action)


def _linked(conn: Connection, principal: Principal, case_id: str) -> tuple[list[dict[str, Any]], bool]:
    rows = service.linked_objects(conn, principal, case_id, after_id=None, limit=LINKS_SHOWN + 1)
    shown = []
    for _, raw in rows[:LINKS_SHOWN]:
        obj = orjson.loads(raw)
        shown.append(
            {"id": obj.get("id", ""), "type": obj.get("type", ""), "title": title_of(obj), "tlp": tlp_label(obj)}
        )
    return shown, len(rows) > LINKS_SHOWN


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    case_id: str,
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """A case: fields, participants, tasks, linked objects, comments and the timeline; forms for participants and
    (owner only) status and participants."""
    try:
        ref = service.get_case_ref(conn, principal, case_id)
    except NotFound:
        return page(request, "notfound.html", principal, status=404, what=case_id)
    case = service.view_of(conn, principal, ref)
    tasks = work.list_case_tasks(conn, principal, case_id, after_id=None, limit=TASKS_PAGE + 1)

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return service.timeline(conn, principal, case_id, after_id=position, limit=n)

    events, following = cursors.keyset_page(principal, "web:case-timeline", case_id, after, TIMELINE_PAGE, fetch)
    linked, more_links = _linked(conn, principal, case_id)
    current = ref.row.status
    return page(
        request,
        "case.html",
        principal,
        case=case,
        tasks=tasks[:TASKS_PAGE],
        more_tasks=len(tasks) > TASKS_PAGE,
        events=events,
        comments=[e for e in events if e["kind"] == "comment"],
        next=following,
        linked=linked,
        more_links=more_links,
        is_owner=ref.row.owner_org_id == principal.org_id,
        moves=objects.TRANSITIONS[current],
        task_statuses=objects.TASK_STATUSES,
    )


@router.post("/cases/{case_id}/comments")
async def comment(request: Request, case_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Comment on a case (any participant)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        service.comment(conn, principal, case_id, form.get("content", ""))
        return f"/cases/{case_id}#comments"

    return await forms.write(request, principal, action)


@router.post("/cases/{case_id}/tasks")
async def add_task(request: Request, case_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Add a task to a case (any participant)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        title = form.get("title", "").strip()
        if not title:
            raise BadRequest("a task needs a title")
        work.add_task(
            conn,
            principal,
            case_id,
            title=title,
            description=form.get("description", ""),
            assignee=form.get("assignee", "").strip() or None,
        )
        return f"/cases/{case_id}#tasks"

    return await forms.write(request, principal, action)


@router.post("/cases/{case_id}/links")
async def link(request: Request, case_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Link objects (ids, one per line or separated by spaces or commas) to a case (any participant)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        service.link_objects(conn, principal, case_id, forms.ids(form.get("object_ids", "")))
        return f"/cases/{case_id}#links"

    return await forms.write(request, principal, action)


@router.post("/cases/{case_id}/status")
async def change_status(request: Request, case_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Move a case to another status (the owning organisation only)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        service.change_status(conn, principal, case_id, form.get("status", ""), form.get("reason", ""))
        return f"/cases/{case_id}"

    return await forms.write(request, principal, action)


@router.post("/cases/{case_id}/participants")
async def change_participants(
    request: Request, case_id: str, principal: Principal = Depends(web_principal)
) -> Response:
    """Add or remove participating organisations (the owning organisation only)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        service.change_participants(
            conn, principal, case_id, add=forms.names(form.get("add", "")), remove=forms.names(form.get("remove", ""))
        )
        return f"/cases/{case_id}"

    return await forms.write(request, principal, action)


# --- tasks -----------------------------------------------------------------------------------------------------


@router.post("/tasks/{task_id}/update")
async def update_task(request: Request, task_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Change a task's status, and take it (assign it to oneself) when asked (any participant)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        task = work.update_task(
            conn,
            principal,
            task_id,
            status=form.get("status") or None,
            assignee=principal.email if form.get("take") == "on" else None,
            note=form.get("note", ""),
        )
        back = form.get("back", "")
        return "/tasks" if back == "mine" else f"/cases/{task['case']}#tasks"

    return await forms.write(request, principal, action)


@router.get("/tasks")
def my_tasks(
    request: Request,
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """The user's queue: tasks assigned to them across the cases they may read."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return work.my_tasks(conn, principal, after_id=position, limit=n)

    tasks, following = cursors.keyset_page(principal, "web:my-tasks", None, after, TASKS_PAGE, fetch)
    return page(request, "tasks.html", principal, tasks=tasks, next=following, task_statuses=objects.TASK_STATUSES)


# --- requests for information ----------------------------------------------------------------------------------


@router.get("/rfis")
def rfis_page(
    request: Request,
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """Requests asked by or addressed to the user's organisation, newest first; a form to ask one."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return rfi.list_rfis(conn, principal, before_id=position, limit=n)

    rfis, following = cursors.keyset_page(principal, "web:rfis", None, after, RFIS_PAGE, fetch)
    return page(request, "rfis.html", principal, rfis=rfis, next=following, tlps=CASE_TLPS)


@router.post("/rfis")
async def ask(request: Request, principal: Principal = Depends(web_principal)) -> Response:
    """Ask partner organisations a question, about values and objects."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        to = forms.names(form.get("to", ""))
        if not to:
            raise BadRequest("name at least one organisation to ask")
        asked = rfi.ask(
            conn,
            principal,
            title=form.get("title", ""),
            question=form.get("question", ""),
            to=to,
            values=forms.ids(form.get("values", "")),
            object_ids=forms.ids(form.get("object_ids", "")),
            tlp=form.get("tlp", "amber"),
        )
        return f"/rfis/{asked['id']}"

    return await forms.write(request, principal, action)


@router.get("/rfis/{rfi_id}")
def rfi_page(
    request: Request,
    rfi_id: str,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """A request with its answers; a form to answer (its addressees) or close it (its asker)."""
    try:
        found = rfi.get_rfi(conn, principal, rfi_id)
    except NotFound:
        return page(request, "notfound.html", principal, status=404, what=rfi_id)
    mine = accounts.get_org(conn, principal.org_id).name
    return page(
        request,
        "rfi.html",
        principal,
        rfi=found,
        can_answer=mine in found["to"] and found["status"] != "closed",
        can_close=mine == found["from"] and found["status"] != "closed",
    )


@router.post("/rfis/{rfi_id}/answers")
async def answer(request: Request, rfi_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Answer a request addressed to the user's organisation."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        rfi.answer(conn, principal, rfi_id, form.get("content", ""), forms.ids(form.get("object_ids", "")))
        return f"/rfis/{rfi_id}#answers"

    return await forms.write(request, principal, action)


@router.post("/rfis/{rfi_id}/close")
async def close(request: Request, rfi_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Close a request (the asking organisation only)."""

    def action(conn: Connection, form: dict[str, str]) -> str:
        rfi.close(conn, principal, rfi_id, form.get("reason", ""))
        return f"/rfis/{rfi_id}"

    return await forms.write(request, principal, action)


# --- notifications ---------------------------------------------------------------------------------------------


def _subject_path(subject: str) -> str | None:
    kind = subject.partition("--")[0]
    if kind == objects.CASE_TYPE:
        return f"/cases/{subject}"
    if kind == objects.RFI_TYPE:
        return f"/rfis/{subject}"
    return None


@router.get("/notifications")
def notifications(
    request: Request,
    unread: bool = False,
    after: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """The user's feed, newest first (only what they may still read), with forms to mark entries read."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return notify.feed(conn, principal, unread_only=unread, before_id=position, limit=n)

    entries, following = cursors.keyset_page(principal, "web:notifications", unread, after, FEED_PAGE, fetch)
    for e in entries:
        e["path"] = _subject_path(e["subject"])
    return page(request, "notifications.html", principal, entries=entries, next=following, unread=unread)


@router.post("/notifications/read")
async def mark_read(request: Request, principal: Principal = Depends(web_principal)) -> Response:
    """Mark one notification (`id`) or all of them read (marking one's own feed needs no write access)."""
    form = await check_csrf(request)
    one = form.get("id", "").strip()

    def run() -> None:
        with transaction(get_engine()) as conn:
            notify.mark_read(conn, principal, [one] if one else None, read=True)

    await run_in_threadpool(run)
    return RedirectResponse("/notifications", status_code=303)
