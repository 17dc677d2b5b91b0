"""REST routes of joint work: cases, their tasks, task logs, comments, linked objects and timeline.

Thin: every route calls accord.joint (the web console calls the same functions). A case or task the caller may
not read answers 404 exactly as one that does not exist, for reads and writes alike (R7, W3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Response
from pydantic import Field
from sqlalchemy import Connection

from accord.api.deps import WRITE_CONN, current_principal, read_conn, writer_principal
from accord.api.schemas import Body
from accord.core.errors import BadRequest
from accord.joint import (
    correlation,
    notify,
    objects,
    pir,
    projection,  # noqa: F401  (registers the projection of received joint work)
    rfi,
    service,
    work,
)
from accord.sharing import cursors
from accord.sharing.policy import Principal

router = APIRouter(prefix="/api/v1", tags=["joint"])
CURSOR = "the `next` of the previous page"


class CaseCreate(Body):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    severity: str = "medium"
    priority: str = "medium"
    tlp: str = Field(default="amber", description="clear | green | amber")
    participants: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="organisations or sharing groups taking part (by name; a group's members follow the group)",
    )
    assignees: list[str] = Field(default_factory=list, max_length=200, description="e-mails of participants' users")
    labels: list[str] = Field(default_factory=list, max_length=200)
    object_ids: list[str] = Field(default_factory=list, description="objects to link (e.g. a lookup's results)")
    from_report: str | None = Field(default=None, description="a report (or grouping) whose objects are linked")


class CaseUpdate(Body):
    """Only the fields given change (the owning organisation only)."""

    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    severity: str | None = None
    priority: str | None = None
    tlp: str | None = None
    assignees: list[str] | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=200)
    base_version: str | None = Field(default=None, description="the version edited; an older one is a conflict")


class StatusChange(Body):
    status: str
    reason: str = Field(default="", max_length=10_000)


class ParticipantsChange(Body):
    add: list[str] = Field(default_factory=list, max_length=200, description="organisations or sharing groups")
    remove: list[str] = Field(default_factory=list, max_length=200, description="organisations or sharing groups")


class Links(Body):
    object_ids: list[str] = Field(min_length=1, max_length=service.MAX_LINKS_PER_CALL)


class CommentCreate(Body):
    content: str = Field(min_length=1, max_length=100_000)


class TaskCreate(Body):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    assignee: str | None = None
    due: str | None = Field(default=None, description="a STIX timestamp")
    status: str = "todo"


class TaskUpdate(Body):
    status: str | None = None
    assignee: str | None = Field(default=None, description="'' unassigns")
    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    due: str | None = None
    note: str = Field(default="", max_length=100_000, description="log the change with this text")


class TaskLogCreate(Body):
    content: str = Field(min_length=1, max_length=100_000)
    evidence: list[str] = Field(default_factory=list, max_length=1000)


def _page(
    principal: Principal,
    scope: str,
    query: object,
    cursor: str | None,
    limit: int,
    fetch: Callable[[int | None, int], list[dict[str, Any]]],
    key: str,
) -> dict[str, Any]:
    """One keyset page of `fetch(position, limit + 1)`; `next` is an opaque cursor bound to caller and query."""
    items, following = cursors.keyset_page(principal, scope, query, cursor, limit, fetch)
    page: dict[str, Any] = {key: [{k: v for k, v in i.items() if k != "_key"} for i in items]}
    if following is not None:
        page["next"] = following
    return page


@router.post("/cases", status_code=201)
def create_case(body: CaseCreate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN) -> Any:
    """Open a case owned by the caller's organisation (from a report and/or a set of objects, in one call)."""
    return service.create_case(conn, p, **body.model_dump())


@router.get("/cases")
def list_cases(
    status: str | None = Query(None),
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(50, ge=1, le=500),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """Cases the caller may read, newest first."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return service.list_cases(conn, p, before_id=position, limit=n, status=status)

    return _page(p, "rest:cases", status, after, limit, fetch, "cases")


@router.get("/cases/{case_id}")
def get_case(case_id: str, p: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)) -> Any:
    """A case: its fields, participants, counts of readable tasks and links, and the first 50 tasks."""
    return work.open_case(conn, p, case_id)


@router.patch("/cases/{case_id}")
def update_case(
    case_id: str, body: CaseUpdate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Change a case's fields (the owning organisation only)."""
    changes = body.model_dump(exclude_unset=True)
    base = changes.pop("base_version", None)
    return service.update_case(conn, p, case_id, changes, base_version=base)


@router.post("/cases/{case_id}/status")
def change_status(
    case_id: str, body: StatusChange, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Move a case to another status, with a reason (the owning organisation only)."""
    return service.change_status(conn, p, case_id, body.status, body.reason)


@router.post("/cases/{case_id}/participants")
def change_participants(
    case_id: str, body: ParticipantsChange, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Add or remove participating organisations (the owning organisation only)."""
    return service.change_participants(conn, p, case_id, add=body.add, remove=body.remove)


@router.post("/cases/{case_id}/links")
def link_objects(
    case_id: str, body: Links, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Link objects to a case (any participant)."""
    return service.link_objects(conn, p, case_id, body.object_ids)


@router.get("/cases/{case_id}/links")
def linked_objects(
    case_id: str,
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """The linked objects the caller may read (newest readable version of each), in link order."""
    bound = cursors.binding(p, "rest:case-links", case_id)
    position = None if after is None else cursors.read_cursor(after, bound, param="after")
    rows = service.linked_objects(conn, p, case_id, after_id=position, limit=limit + 1)
    body = b'{"objects":[' + b",".join(raw for _, raw in rows[:limit]) + b"]"
    if len(rows) > limit:
        body += b',"next":' + orjson.dumps(cursors.make_cursor(rows[limit - 1][0], bound))
    return Response(body + b"}", media_type="application/json")


@router.get("/cases/{case_id}/correlations")
def case_correlations(
    case_id: str,
    limit: int = Query(100, ge=1, le=1000),
    match: Literal["related", "equal", "all"] = Query(
        "related",
        description="`related`: equal values, IP ranges and parent domains; `equal`: equal values only; "
        "`all`: the correlation service over every linked object (slower)",
    ),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """Values of the case's linked objects seen in other readable content (by whom, when) and other cases."""
    return correlation.case_correlations(conn, p, case_id, limit=limit, match=match)


@router.post("/cases/{case_id}/comments", status_code=201)
def comment(
    case_id: str, body: CommentCreate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Comment on a case (any participant)."""
    return service.comment(conn, p, case_id, body.content)


@router.get("/cases/{case_id}/timeline")
def timeline(
    case_id: str,
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """Everything that happened to a case, oldest first (conflicting edits included)."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return service.timeline(conn, p, case_id, after_id=position, limit=n)

    return _page(p, "rest:case-timeline", case_id, after, limit, fetch, "events")


@router.post("/cases/{case_id}/tasks", status_code=201)
def add_task(
    case_id: str, body: TaskCreate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Add a task to a case (any participant)."""
    return work.add_task(conn, p, case_id, **body.model_dump())


@router.get("/cases/{case_id}/tasks")
def case_tasks(
    case_id: str,
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """The tasks of a case, in creation order."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return work.list_case_tasks(conn, p, case_id, after_id=position, limit=n)

    return _page(p, "rest:case-tasks", case_id, after, limit, fetch, "tasks")


@router.get("/tasks")
def tasks(
    mine: bool = Query(True, description="the caller's queue: tasks assigned to it across cases"),
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(100, ge=1, le=1000),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """The caller's task queue across the cases it may read (`mine=1`)."""
    if not mine:
        raise BadRequest("list a case's tasks under /cases/{id}/tasks; /tasks lists your own (mine=1)")

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return work.my_tasks(conn, p, after_id=position, limit=n)

    return _page(p, "rest:my-tasks", None, after, limit, fetch, "tasks")


@router.get("/tasks/{task_id}")
def get_task(task_id: str, p: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)) -> Any:
    """A task with its log."""
    return work.get_task(conn, p, task_id)


@router.patch("/tasks/{task_id}")
def update_task(
    task_id: str, body: TaskUpdate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Change a task: status or assignee (any participant), title, description or due (its organisation)."""
    return work.update_task(conn, p, task_id, **body.model_dump(exclude_unset=True))


@router.post("/tasks/{task_id}/logs", status_code=201)
def log_task(
    task_id: str, body: TaskLogCreate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Append a log entry, with optional evidence objects."""
    return work.log_task(conn, p, task_id, body.content, body.evidence)


class RfiCreate(Body):
    title: str = Field(min_length=1, max_length=300)
    question: str = Field(default="", max_length=100_000)
    to: list[str] = Field(min_length=1, max_length=200, description="the organisations or sharing groups asked")
    values: list[str] = Field(default_factory=list, max_length=rfi.MAX_VALUES)
    object_ids: list[str] = Field(default_factory=list, max_length=service.MAX_LINKS_PER_CALL)
    due: str | None = Field(default=None, description="a STIX timestamp")
    tlp: str = Field(default="amber", description="clear | green | amber")


class RfiAnswer(Body):
    content: str = Field(default="", max_length=100_000)
    object_ids: list[str] = Field(default_factory=list, max_length=service.MAX_LINKS_PER_CALL)


class RfiClose(Body):
    reason: str = Field(default="", max_length=10_000)


@router.post("/rfis", status_code=201, tags=["rfis"])
def ask(body: RfiCreate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN) -> Any:
    """Ask partner organisations about values, objects or a question."""
    return rfi.ask(conn, p, **body.model_dump())


@router.get("/rfis", tags=["rfis"])
def list_rfis(
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(50, ge=1, le=500),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """Requests asked by or addressed to the caller's organisation, newest first."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return rfi.list_rfis(conn, p, before_id=position, limit=n)

    return _page(p, "rest:rfis", None, after, limit, fetch, "rfis")


@router.get("/rfis/{rfi_id}", tags=["rfis"])
def get_rfi(rfi_id: str, p: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)) -> Any:
    """A request with its answers and response times."""
    return rfi.get_rfi(conn, p, rfi_id)


@router.post("/rfis/{rfi_id}/answers", status_code=201, tags=["rfis"])
def answer_rfi(
    rfi_id: str, body: RfiAnswer, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Answer a request addressed to the caller's organisation."""
    return rfi.answer(conn, p, rfi_id, body.content, body.object_ids)


@router.post("/rfis/{rfi_id}/close", tags=["rfis"])
def close_rfi(
    rfi_id: str, body: RfiClose, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Close a request (the asking organisation only)."""
    return rfi.close(conn, p, rfi_id, body.reason)


class PirCriteria(Body):
    names: list[str] = Field(
        default_factory=list, max_length=pir.MAX_TERMS, description="threat actor, intrusion set or malware names"
    )
    techniques: list[str] = Field(default_factory=list, max_length=pir.MAX_TERMS, description="ATT&CK ids: T1566")
    sectors: list[str] = Field(default_factory=list, max_length=pir.MAX_TERMS)
    countries: list[str] = Field(default_factory=list, max_length=pir.MAX_TERMS, description="ISO codes: DE")
    keywords: list[str] = Field(default_factory=list, max_length=pir.MAX_TERMS)
    domains: list[str] = Field(default_factory=list, max_length=pir.MAX_TERMS, description="suffixes: evil.example")
    cidrs: list[str] = Field(default_factory=list, max_length=pir.MAX_TERMS, description="198.51.100.0/24")


class PirCreate(Body):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=100_000)
    participants: list[str] = Field(
        default_factory=list, max_length=200, description="organisations or sharing groups (by name)"
    )
    tlp: str = Field(default="amber", description="clear | green | amber")
    criteria: PirCriteria


class PirUpdate(Body):
    """Only the fields given change (the owning organisation only); criteria given replace the old ones."""

    title: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    status: str | None = Field(default=None, description="active | inactive")
    criteria: PirCriteria | None = None


@router.post("/pirs", status_code=201, tags=["pirs"])
def create_pir(body: PirCreate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN) -> Any:
    """A joint intelligence requirement owned by the caller's organisation, shared with the participants."""
    return pir.create_pir(conn, p, **body.model_dump())


@router.get("/pirs", tags=["pirs"])
def list_pirs(
    status: str | None = Query(None, description="active | inactive"),
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(50, ge=1, le=500),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """Requirements owned by or shared with the caller's organisation, newest first."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return pir.list_pirs(conn, p, before_id=position, limit=n, status=status)

    return _page(p, "rest:pirs", status, after, limit, fetch, "pirs")


@router.get("/pirs/{pir_id}", tags=["pirs"])
def get_pir(pir_id: str, p: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)) -> Any:
    """A requirement, with the count of its matches the caller may read."""
    return pir.get_pir(conn, p, pir_id)


@router.patch("/pirs/{pir_id}", tags=["pirs"])
def update_pir(
    pir_id: str, body: PirUpdate, p: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Change a requirement: title, description, status or criteria (a new version)."""
    fields = body.model_dump(exclude_unset=True)
    if fields.get("criteria") is None:
        fields.pop("criteria", None)
    return pir.update_pir(conn, p, pir_id, **fields)


@router.get("/pirs/{pir_id}/matches", tags=["pirs"])
def pir_matches(
    pir_id: str,
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(50, ge=1, le=500),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """New intelligence that matched the requirement, newest first: only the versions the caller may read."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return pir.matches(conn, p, pir_id, before_id=position, limit=n)

    return _page(p, "rest:pir-matches", pir_id, after, limit, fetch, "matches")


class NotificationsMark(Body):
    ids: list[str] | None = Field(default=None, max_length=notify.MAX_MARK, description="omit: all of them")
    read: bool = True


@router.get("/notifications", tags=["notifications"])
def notifications(
    unread: bool = Query(False, description="only the unread ones"),
    after: str | None = Query(None, description=CURSOR),
    limit: int = Query(50, ge=1, le=500),
    p: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """The caller's feed, newest first, with the count of unread entries."""

    def fetch(position: int | None, n: int) -> list[dict[str, Any]]:
        return notify.feed(conn, p, unread_only=unread, before_id=position, limit=n)

    page = _page(p, "rest:notifications", unread, after, limit, fetch, "notifications")
    return page | {"unread": notify.unread_count(conn, p)}


@router.post("/notifications/read", tags=["notifications"])
def mark_notifications(
    body: NotificationsMark, p: Principal = Depends(current_principal), conn: Connection = WRITE_CONN
) -> Any:
    """Mark the caller's notifications read (or unread with `read: false`)."""
    return {"changed": notify.mark_read(conn, p, body.ids, read=body.read)}


@router.get("/joint/extensions")
def extensions(_: Principal = Depends(current_principal)) -> Any:
    """The extension-definitions (and their publisher's identity) that describe joint-work objects."""
    return {"objects": objects.shipped_definitions()}


def register(app: FastAPI) -> None:
    """Mount the joint-work routes."""
    app.include_router(router)
