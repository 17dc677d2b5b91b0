"""Tasks of a case and their logs. A task is owned by the organisation that created it: its analysts change it
by new versions; a participant of another organisation changes status or assignee through a task-log note
(its own object), and the newest change wins."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row

from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Forbidden, NotFound
from accord.joint import objects
from accord.joint import repository as repo
from accord.joint.notify import notify
from accord.joint.service import (
    actor_of,
    case_for_contribution,
    check_assignees,
    check_ids,
    get_case_ref,
    next_modified,
    org_ref,
    store,
    view_of,
)
from accord.sharing.policy import Principal
from accord.stix.ids import ID_RE
from accord.stix.markings import Tlp
from accord.stix.timestamps import normalize_timestamp, timestamp_to_micros


def _check_status(status: str) -> str:
    if status not in objects.TASK_STATUSES:
        raise BadRequest(f"task status must be one of {', '.join(objects.TASK_STATUSES)}")
    return status


def _check_due(due: str | None) -> str | None:
    if not due:
        return None
    try:
        return normalize_timestamp(due)
    except ValueError:
        raise BadRequest(f"due {due!r} is not a STIX timestamp (e.g. 2026-12-31T00:00:00Z)") from None


def task_view(row: Row[Any]) -> dict[str, Any]:
    """A task row as callers see it."""
    return {
        "id": row.stix_id,
        "case": row.case_stix_id,
        "title": row.title,
        "status": row.status,
        "assignee": row.assignee,
        "due": row.due,
        "updated": objects.timestamp(row.updated_us),
        "_key": row.id,
    }


def add_task(
    conn: Connection,
    principal: Principal,
    case_id: str,
    *,
    title: str,
    description: str = "",
    assignee: str | None = None,
    due: str | None = None,
    status: str = "todo",
) -> dict[str, Any]:
    """Add a task to a case the caller's organisation takes part in."""
    ref = case_for_contribution(conn, principal, case_id)
    if not title.strip():
        raise BadRequest("a task needs a title")
    fields: dict[str, Any] = {
        "name": title.strip(),
        "description": description,
        "status": _check_status(status),
        "assignee": check_assignees(conn, ref.participants, [assignee])[0] if assignee else None,
        "due": _check_due(due),
    }
    at = now_us()
    ts = objects.timestamp(at)
    body = objects.task_object(
        stix_id=objects.new_id(objects.TASK_TYPE),
        owner_ref=org_ref(conn, principal.org_id),
        created=ts,
        modified=ts,
        case_ref=ref.row.stix_id,
        fields=fields,
        tlp=Tlp(ref.row.tlp),
    )
    (seq,) = store(conn, principal, ref.row.collection_id, [body])
    task_pk = repo.insert_task(
        conn,
        {
            "stix_id": body["id"],
            "case_id": ref.row.id,
            "owner_org_id": principal.org_id,
            "seq": seq,
            "title": fields["name"][:300],
            "status": fields["status"],
            "assignee": fields["assignee"],
            "due": fields["due"],
            "updated_us": at,
        },
    )
    summary = f"task {fields['name']!r} added" + (f", assigned to {assignee}" if assignee else "")
    repo.add_event(conn, ref.row.id, seq, "task.create", actor_of(principal), summary, task_id=task_pk)
    if assignee:
        _assigned(conn, principal, fields["assignee"], seq, body["id"], fields["name"], ref.row.title)
    record(conn, actor_of(principal), "task.create", body["id"], case=case_id)
    return get_task(conn, principal, body["id"])


def _task_for_contribution(conn: Connection, principal: Principal, task_id: str) -> tuple[Row[Any], Any]:
    row = repo.readable_task(conn, principal, task_id) if ID_RE.match(task_id) else None
    if row is None:
        raise NotFound(f"no task {task_id}")
    try:
        ref = case_for_contribution(conn, principal, row.case_stix_id)
    except NotFound:
        raise NotFound(f"no task {task_id}") from None
    return row, ref


def get_task(conn: Connection, principal: Principal, task_id: str) -> dict[str, Any]:
    """A task the caller may read, with its description and its readable log."""
    row = repo.readable_task(conn, principal, task_id) if ID_RE.match(task_id) else None
    if row is None:
        raise NotFound(f"no task {task_id}")
    body = orjson.loads(repo.raw_version(conn, row.seq))
    logs = []
    for entry in repo.task_logs(conn, principal, row.id):
        note = orjson.loads(entry.raw)
        update = note.get("extensions", {}).get(objects.TASK_UPDATE_EXT, {})
        logs.append(
            {
                "id": note["id"],
                "at": objects.timestamp(entry.at_us),
                "author": entry.actor,
                "content": note["content"],
                "evidence": note["object_refs"][1:],
                **{k: update[k] for k in ("status", "assignee") if k in update},
            }
        )
    view = task_view(row)
    view.pop("_key")
    return view | {"description": body.get("description", ""), "log": logs}


def update_task(
    conn: Connection,
    principal: Principal,
    task_id: str,
    *,
    status: str | None = None,
    assignee: str | None = None,
    title: str | None = None,
    description: str | None = None,
    due: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Change a task. The owning organisation versions the task; another participant's change (status,
    assignee only) is a task-log note, as is every change that comes with a note."""
    row, ref = _task_for_contribution(conn, principal, task_id)
    changes: dict[str, Any] = {}
    if status is not None:
        changes["status"] = _check_status(status)
    if assignee is not None:
        changes["assignee"] = check_assignees(conn, ref.participants, [assignee])[0] if assignee else ""
    owned = row.owner_org_id == principal.org_id
    if title is not None or description is not None or due is not None:
        if not owned:
            raise Forbidden("only the organisation that created a task changes its title, description or due date")
        if title is not None and not title.strip():
            raise BadRequest("a task needs a title")
    if not changes and title is None and description is None and due is None:
        raise BadRequest("nothing to change")
    actor = actor_of(principal)
    summary = ", ".join(f"{k} {v or '(none)'}" for k, v in changes.items()) or "details changed"
    if owned and not note:
        body = orjson.loads(repo.raw_version(conn, row.seq))
        fields = {
            "name": (title or body["name"]).strip(),
            "description": body.get("description", "") if description is None else description,
            "status": changes.get("status", body["status"]),
            "assignee": changes.get("assignee", body.get("assignee")),
            "due": body.get("due") if due is None else _check_due(due),
        }
        new = objects.task_object(
            stix_id=row.stix_id,
            owner_ref=body["created_by_ref"],
            created=body["created"],
            modified=next_modified(max(body["modified"], objects.timestamp(row.updated_us), key=timestamp_to_micros)),
            case_ref=row.case_stix_id,
            fields=fields,
            tlp=Tlp(ref.row.tlp),
            based_on=objects.timestamp(row.updated_us),  # a node that changed it meanwhile shows a conflict
        )
        (seq,) = store(conn, principal, ref.row.collection_id, [new])
        repo.update_task(
            conn,
            row.id,
            seq=seq,
            title=fields["name"][:300],
            status=fields["status"],
            assignee=fields["assignee"] or None,
            due=fields["due"],
            updated_us=timestamp_to_micros(new["modified"]),  # the same on every node that holds the version
        )
        repo.add_event(conn, ref.row.id, seq, "task.edit", actor, f"{row.title}: {summary}", task_id=row.id)
    else:
        if title is not None or description is not None or due is not None:
            raise BadRequest("a task-log entry changes status or assignee only")
        _log(conn, principal, row, ref, note or summary, [], changes)
    if changes.get("assignee"):
        seq = repo.last_task_change(conn, row.id)
        _assigned(conn, principal, changes["assignee"], seq, row.stix_id, title or row.title, ref.row.title)
    record(conn, actor, "task.edit", task_id, fields=sorted(changes) or ["details"])
    return get_task(conn, principal, task_id)


def _assigned(
    conn: Connection, principal: Principal, email: str, seq: int, task_id: str, title: str, case: str
) -> None:
    summary = f"{actor_of(principal)} assigned you {title!r} in case {case!r}"
    notify(conn, [email], actor=principal.email, seq=seq, kind="task.assigned", subject=task_id, summary=summary)


def _log(
    conn: Connection,
    principal: Principal,
    row: Row[Any],
    ref: Any,
    text: str,
    evidence: list[str],
    changes: dict[str, Any],
) -> dict[str, Any]:
    at = max(now_us(), row.updated_us + 1) if changes else now_us()  # a change is newer than the state it changes
    note = objects.note_object(
        owner_ref=org_ref(conn, principal.org_id),
        at=objects.timestamp(at),
        author=actor_of(principal),
        content=text,
        refs=[row.stix_id, *evidence],
        tlp=Tlp(ref.row.tlp),
        update={**changes, "based_on": objects.timestamp(row.updated_us)} if changes else None,
    )
    (seq,) = store(conn, principal, ref.row.collection_id, [note])
    if changes:
        values: dict[str, Any] = {"updated_us": at}
        if "status" in changes:
            values["status"] = changes["status"]
        if "assignee" in changes:
            values["assignee"] = changes["assignee"] or None
        repo.update_task(conn, row.id, **values)
    repo.add_event(conn, ref.row.id, seq, "task.log", actor_of(principal), f"{row.title}: {text[:500]}", task_id=row.id)
    return note


def log_task(
    conn: Connection, principal: Principal, task_id: str, text: str, evidence: list[str] | None = None
) -> dict[str, Any]:
    """Append a log entry (a note on the task, with optional evidence objects) as the caller."""
    row, ref = _task_for_contribution(conn, principal, task_id)
    if not text.strip():
        raise BadRequest("a log entry needs text")
    note = _log(conn, principal, row, ref, text, check_ids(list(evidence or []), "evidence id"), {})
    record(conn, actor_of(principal), "task.log", task_id, note=note["id"])
    return {"id": note["id"], "author": actor_of(principal), "content": text, "created": note["created"]}


def list_case_tasks(
    conn: Connection, principal: Principal, case_id: str, *, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """The readable tasks of a case, in creation order."""
    ref = get_case_ref(conn, principal, case_id)
    return [task_view(r) for r in repo.list_tasks(conn, principal, case_id=ref.row.id, after_id=after_id, limit=limit)]


def open_case(conn: Connection, principal: Principal, case_id: str, *, limit: int = 50) -> dict[str, Any]:
    """What a case page shows first: the case view and the first page of its tasks (`more` if there are more)."""
    ref = get_case_ref(conn, principal, case_id)
    rows = repo.list_tasks(conn, principal, case_id=ref.row.id, limit=limit + 1)
    tasks = [{k: v for k, v in task_view(r).items() if k != "_key"} for r in rows[:limit]]
    return view_of(conn, principal, ref) | {"first_tasks": tasks, "more_tasks": len(rows) > limit}


def my_tasks(conn: Connection, principal: Principal, *, after_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The caller's queue: readable tasks assigned to it across cases."""
    if not principal.email:
        return []
    rows = repo.list_tasks(conn, principal, assignee=principal.email, after_id=after_id, limit=limit)
    return [task_view(r) | {"case_title": r.case_title} for r in rows]
