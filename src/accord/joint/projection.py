"""Projection of joint-work STIX versions that arrive from elsewhere into the derived tables.

Cases, tasks, comments, task logs and link groupings are STIX content: they reach a node over a TAXII POST, a
peer's pull or push, a feed or `accord import`, like any other object. The store calls `project_stored` after
every ingest that stored something (accord.store.hooks), in the writing transaction, so the case list, the task
queue and the timeline of the receiving node show them at once, and nothing is half-written. Versions written by
this node's own joint services (accord.joint.service.store) are skipped here: those services fill the derived
rows themselves, with the acting user's name.

Concurrent edits converge on every node the same way: every change is a new version, the newest `modified`
wins (a version older than the one a row shows never replaces it), and an edit based on an older version than
the newest one the node holds is a `conflict` entry in the timeline (`conflict_summary`, the one rule the local
edit path uses too). Nothing is lost: every version stays in the object history, and the links an older
version made are kept.

The projection reads no caller's view: every derived row names the version it comes from, and every read of
it goes through the sharing policy (accord.joint.repository).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.joint import objects
from accord.joint import repository as repo
from accord.stix.timestamps import normalize_timestamp, timestamp_to_micros
from accord.store import hooks

_LOCAL: ContextVar[bool] = ContextVar("accord_joint_local_write", default=False)

PROJECTED_TYPES = (objects.CASE_TYPE, objects.RFI_TYPE, objects.PIR_TYPE, objects.TASK_TYPE, "grouping", "note")
_ORDER = {t: i for i, t in enumerate(PROJECTED_TYPES)}
_HEADS = frozenset(PROJECTED_TYPES[:3])  # what the other types refer to


@contextmanager
def local_write() -> Iterator[None]:
    """Within this block the joint services store versions whose derived rows they write themselves."""
    token = _LOCAL.set(True)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def conflict_summary(based_on: str | None, newest: str) -> str | None:
    """The timeline text of an edit based on `based_on` while `newest` was the newest version; None when the
    edit was made on the newest version (or names no base)."""
    if not based_on:
        return None
    try:
        if timestamp_to_micros(based_on) == timestamp_to_micros(newest):
            return None
    except ValueError:
        return None
    return f"edit made on version {based_on} while {newest} was newest; both versions are kept"


def _us(ts: str) -> int:
    return timestamp_to_micros(ts)


def received_timestamp(value: Any) -> str | None:
    """A received timestamp, normalised (it fits its column), or None when it is none."""
    try:
        return normalize_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _actor(conn: Connection, owner_org_id: int, body: dict[str, Any]) -> str:
    """Who made a received change: the note's author when it names one, else its organisation."""
    authors = body.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], str):
        return authors[0][:320]
    return repo.org_names(conn, [owner_org_id]).get(owner_org_id, f"org:{owner_org_id}")


def project_stored(conn: Connection, seqs: Sequence[int]) -> None:
    """Fill the derived joint tables from the joint-work versions among these newly stored ones, and record the
    values of new versions of objects linked to cases (the correlation summary reads them)."""
    if repo.any_links(conn):  # else no new version can be one of a linked object
        repo.add_case_values(conn, repo.linked_versions(conn, seqs))
    if _LOCAL.get():
        return
    found = repo.versions_of_types(conn, seqs, PROJECTED_TYPES)
    if not found:
        return
    # Cases, requests and requirements first (the rest refers to them), then every change in the order it was made:
    # a task version and a task-log note that changes the task are one history.
    found.sort(key=lambda v: (v.type not in _HEADS, _us(v.version), _ORDER[v.type], v.seq))
    for v in found:
        try:
            body = orjson.loads(v.raw)
        except orjson.JSONDecodeError:  # pragma: no cover - the store keeps valid JSON only
            continue
        if v.type == objects.CASE_TYPE:
            _case(conn, v, body)
        elif v.type == objects.TASK_TYPE:
            _task(conn, v, body)
        elif v.type == objects.RFI_TYPE:
            from accord.joint import rfi  # late: rfi uses the services, which use this module

            rfi.project_rfi(conn, v, body)
        elif v.type == objects.PIR_TYPE:
            from accord.joint import pir

            pir.project_pir(conn, v, body)
        elif v.type == "grouping":
            _grouping(conn, v, body)
        else:
            _note(conn, v, body)


def _refs(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    return list(dict.fromkeys(r for r in value if isinstance(r, str))) if isinstance(value, list) else []


def _takes_part(conn: Connection, case: Any, org_id: int) -> bool:
    """Whether an organisation takes part in a case (its newest version's participants, or the owner): only
    they add tasks, comments, logs and links, received or not."""
    if org_id == case.owner_org_id:
        return True
    refs = _refs(orjson.loads(repo.raw_version(conn, case.seq)), "participant_refs")
    return org_id in repo.org_ids_by_identity(conn, refs).values()


def _new_links(conn: Connection, case_pk: int, refs: list[str], seq: int) -> int:
    new = [r for r in refs if r not in repo.existing_links(conn, case_pk, refs)]
    repo.insert_links(conn, case_pk, new, seq)
    return len(new)


def _case(conn: Connection, v: Any, body: dict[str, Any]) -> None:
    try:
        fields = objects.case_fields(body)
    except (KeyError, TypeError, ValueError):
        return  # not a case this node can show; it stays stored and readable as STIX content
    actor = _actor(conn, v.owner_org_id, body)
    title = str(fields["name"])[:300]
    row = repo.case_by_stix_id(conn, body["id"])
    if row is None:
        collection_id = repo.collection_of_version(conn, v.seq)
        if collection_id is None:
            return
        at = _us(v.version)
        case_pk = repo.insert_case(
            conn,
            {
                "stix_id": body["id"],
                "collection_id": collection_id,
                "owner_org_id": v.owner_org_id,
                "seq": v.seq,
                "version": v.version,
                "status": str(fields["status"])[:16],
                "title": title,
                "severity": str(fields["severity"])[:16],
                "priority": str(fields["priority"])[:16],
                "tlp": fields["tlp"],
                "created_us": _us(body.get("created", v.version)),
                "updated_us": at,
                "opened_by": "",
            },
        )
        linked = _new_links(conn, case_pk, fields["object_refs"], v.seq)
        repo.add_event(conn, case_pk, v.seq, "case.create", actor, f"opened with {linked} linked objects")
        return
    if v.owner_org_id != row.owner_org_id:
        return  # only the owner's versions change a case (W2); another copy stays plain STIX content
    linked = _new_links(conn, row.id, fields["object_refs"], v.seq)
    if _us(v.version) <= _us(row.version):
        # A version older than the newest arrived late: it does not win, and the timeline says so.
        summary = f"version {v.version} arrived after {row.version}, which stays newest; both versions are kept"
        repo.add_event(conn, row.id, v.seq, "conflict", actor, summary)
        return
    previous = objects.case_fields(orjson.loads(repo.raw_version(conn, row.seq)))
    repo.update_case(
        conn,
        row.id,
        seq=v.seq,
        version=v.version,
        status=str(fields["status"])[:16],
        title=title,
        severity=str(fields["severity"])[:16],
        priority=str(fields["priority"])[:16],
        tlp=fields["tlp"],
        updated_us=_us(v.version),
    )
    conflict = conflict_summary(body.get("based_on"), row.version)
    if conflict is not None:
        repo.add_event(conn, row.id, v.seq, "conflict", actor, conflict)
    kind, summary = _case_change(previous, fields, linked)
    repo.add_event(conn, row.id, v.seq, kind, actor, summary)


def _case_change(previous: dict[str, Any], fields: dict[str, Any], linked: int) -> tuple[str, str]:
    """The timeline kind and text of a received case version, from what changed since the newest one."""
    if fields["status"] != previous["status"]:
        reason = str(fields.get("status_reason") or "")
        return "case.status", f"{previous['status']} -> {fields['status']}" + (f": {reason}" if reason else "")
    if fields["participant_refs"] != previous["participant_refs"]:
        return "case.participants", "participants changed"
    if linked and fields["object_refs"] != previous["object_refs"]:
        return "case.link", f"linked {linked} objects"
    names = {"name": "title"}
    changed = sorted(names.get(k, k) for k in fields if k != "object_refs" and fields[k] != previous[k])
    return "case.edit", "changed " + (", ".join(changed) or "nothing")


def _task(conn: Connection, v: Any, body: dict[str, Any]) -> None:
    case_ref = body.get("case_ref")
    name, status = body.get("name"), body.get("status")
    if not isinstance(case_ref, str) or not isinstance(name, str) or status not in objects.TASK_STATUSES:
        return
    case = repo.case_by_stix_id(conn, case_ref)
    if case is None or not _takes_part(conn, case, v.owner_org_id):
        return  # a task of a case this node does not hold, or of an organisation that does not take part
    actor = _actor(conn, v.owner_org_id, body)
    assignee = body["assignee"][:320] if isinstance(body.get("assignee"), str) else None
    due = received_timestamp(body.get("due"))
    row = repo.task_by_stix_id(conn, body["id"])
    at = _us(v.version)
    values = {"title": name[:300], "status": status, "assignee": assignee or None, "due": due, "updated_us": at}
    if row is None:
        task_pk = repo.insert_task(
            conn, {"stix_id": body["id"], "case_id": case.id, "owner_org_id": v.owner_org_id, "seq": v.seq, **values}
        )
        summary = f"task {name!r} added" + (f", assigned to {assignee}" if assignee else "")
        repo.add_event(conn, case.id, v.seq, "task.create", actor, summary, task_id=task_pk)
        return
    if row.case_id != case.id or v.owner_org_id != row.owner_org_id:
        return
    if at <= row.updated_us:
        summary = f"{row.title}: version {v.version} arrived after a newer change, which stays; both are kept"
        repo.add_event(conn, case.id, v.seq, "conflict", actor, summary, task_id=row.id)
        if at > _us(repo.version_of(conn, row.seq)):
            repo.update_task(conn, row.id, seq=v.seq)  # the newest version still names the task
        return
    repo.update_task(conn, row.id, seq=v.seq, **values)
    _task_conflict(conn, v, row, body.get("based_on"), actor)
    repo.add_event(conn, case.id, v.seq, "task.edit", actor, f"{name}: status {status}", task_id=row.id)


def _task_conflict(conn: Connection, v: Any, task: Any, based_on: Any, actor: str) -> None:
    """A change that wins but was made on an older state of the task than the newest this node held (another
    node changed it meanwhile): a conflict entry, as for cases."""
    conflict = conflict_summary(based_on if isinstance(based_on, str) else None, objects.timestamp(task.updated_us))
    if conflict is not None:
        repo.add_event(conn, task.case_id, v.seq, "conflict", actor, f"{task.title}: {conflict}", task_id=task.id)


def _grouping(conn: Connection, v: Any, body: dict[str, Any]) -> None:
    ext = body.get("extensions", {})
    link = ext.get(objects.CASE_LINK_EXT) if isinstance(ext, dict) else None
    if not isinstance(link, dict) or not isinstance(link.get("case_ref"), str):
        return
    case = repo.case_by_stix_id(conn, link["case_ref"])
    if case is None or not _takes_part(conn, case, v.owner_org_id):
        return
    refs = [r for r in _refs(body, "object_refs") if r != case.stix_id]
    linked = _new_links(conn, case.id, refs, v.seq)
    repo.add_event(conn, case.id, v.seq, "case.link", _actor(conn, v.owner_org_id, body), f"linked {linked} objects")


def _note(conn: Connection, v: Any, body: dict[str, Any]) -> None:
    refs = _refs(body, "object_refs")
    content = body.get("content")
    if not refs or not isinstance(content, str):
        return
    actor = _actor(conn, v.owner_org_id, body)
    task = repo.task_by_stix_id(conn, refs[0]) if refs[0].startswith(objects.TASK_TYPE + "--") else None
    if task is not None:
        if not _takes_part(conn, repo.case_by_pk(conn, task.case_id), v.owner_org_id):
            return
        ext = body.get("extensions", {})
        update = ext.get(objects.TASK_UPDATE_EXT) if isinstance(ext, dict) else None
        if isinstance(update, dict):
            _task_update(conn, v, task, update, actor)
        repo.add_event(conn, task.case_id, v.seq, "task.log", actor, f"{task.title}: {content[:500]}", task_id=task.id)
        return
    if refs[0].startswith(objects.RFI_TYPE + "--"):
        from accord.joint import rfi

        rfi.project_answer(conn, v, body)
        return
    case = repo.case_by_stix_id(conn, refs[0]) if refs[0].startswith(objects.CASE_TYPE + "--") else None
    if case is not None and _takes_part(conn, case, v.owner_org_id):
        repo.add_event(conn, case.id, v.seq, "comment", actor, content[:500])


def _task_update(conn: Connection, v: Any, task: Any, update: dict[str, Any], actor: str) -> None:
    """A task-log note that changes a task's status or assignee: applied when newer than the last change."""
    at = _us(v.version)
    if at <= task.updated_us:
        # An older change: the log entry stays in the timeline, the newer state stays, and the timeline says so.
        summary = f"{task.title}: change {v.version} arrived after a newer change, which stays; both are kept"
        repo.add_event(conn, task.case_id, v.seq, "conflict", actor, summary, task_id=task.id)
        return
    _task_conflict(conn, v, task, update.get("based_on"), actor)
    values: dict[str, Any] = {"updated_us": at}
    if update.get("status") in objects.TASK_STATUSES:
        values["status"] = update["status"]
    if "assignee" in update and (update["assignee"] is None or isinstance(update["assignee"], str)):
        values["assignee"] = update["assignee"] or None
    repo.update_task(conn, task.id, **values)


hooks.register("joint.projection", project_stored)
