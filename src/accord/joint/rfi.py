"""Requests for information: an organisation asks partner organisations about values, objects or a question,
with a due date and a TLP; the addressed organisations answer with text and/or shared STIX objects.

Like a case, a request has its own collection whose readers are the asker and the addressed organisations;
the request is an `x-accord-rfi` object of the asker, each answer a `note` of the answering organisation
(object_refs: the request, then the objects it shares). Status (open, answered, closed) and response times
follow from what the caller may read.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row

from accord.accounts import service as accounts
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Conflict, Forbidden, NotFound
from accord.joint import objects
from accord.joint import repository as repo
from accord.joint.notify import notify
from accord.joint.projection import received_timestamp
from accord.joint.service import (
    actor_of,
    check_ids,
    member_ids,
    next_modified,
    org_ref,
    parse_tlp,
    resolve_parties,
    share_own,
    store,
)
from accord.sharing.policy import Principal
from accord.stix.ids import ID_RE
from accord.stix.markings import Tlp, tlp_of
from accord.stix.timestamps import normalize_timestamp, timestamp_to_micros

MAX_VALUES = 1000


def _alias(stix_id: str) -> str:
    return "rfi-" + stix_id.partition("--")[2]


def ask(
    conn: Connection,
    principal: Principal,
    *,
    title: str,
    question: str = "",
    to: list[str],
    values: list[str] | None = None,
    object_ids: list[str] | None = None,
    due: str | None = None,
    tlp: str = "amber",
) -> dict[str, Any]:
    """Ask one or more partner organisations; the caller's own objects asked about are shared with them."""
    if not title.strip():
        raise BadRequest("a request needs a title")
    if not to:
        raise BadRequest("address the request to at least one organisation")
    asked = list(dict.fromkeys(v.strip() for v in values or [] if v.strip()))
    if len(asked) > MAX_VALUES:
        raise BadRequest(f"at most {MAX_VALUES} values per request")
    level = parse_tlp(tlp)
    refs = check_ids(list(object_ids or []))
    if due:
        try:
            due = normalize_timestamp(due)
        except ValueError:
            raise BadRequest(f"due {due!r} is not a STIX timestamp (e.g. 2026-12-31T00:00:00Z)") from None
    rows, groups = resolve_parties(conn, to, remote=True)  # a partner on another node answers from there
    if any(r.id == principal.org_id for r in rows):
        raise BadRequest("a request is addressed to other organisations")
    stix_id = objects.new_id(objects.RFI_TYPE)
    names = [accounts.get_org(conn, principal.org_id).name, *dict.fromkeys(r.name for r in rows)]
    coll = accounts.create_collection(
        conn,
        f"Request: {title.strip()[:200]}",
        _alias(stix_id),
        readers=[*names, *groups],
        writers=[*names, *groups],
        description=f"The shared collection of request {stix_id}",
        actor=actor_of(principal),
    )
    at = now_us()
    ts = objects.timestamp(at)
    fields: dict[str, Any] = {
        "name": title.strip(),
        "question": question,
        "addressee_refs": list(dict.fromkeys(r.stix_id for r in rows)),
        "addressee_groups": groups,
        "values": asked,
        "object_refs": refs,
        "due": due,
        "status": "open",
        "tlp": int(level),
    }
    body = objects.rfi_object(
        stix_id=stix_id, owner_ref=org_ref(conn, principal.org_id), created=ts, modified=ts, fields=fields
    )
    (seq,) = store(conn, principal, coll.id, [body])
    share_own(conn, principal, coll.id, refs)
    row = {
        "stix_id": stix_id,
        "collection_id": coll.id,
        "owner_org_id": principal.org_id,
        "seq": seq,
        "status": "open",
        "title": fields["name"][:300],
        "due": due,
        "tlp": int(level),
        "created_us": at,
        "updated_us": at,
        "asked_by": principal.email,
    }
    repo.insert_rfi(conn, row)
    record(
        conn, actor_of(principal), "rfi.create", stix_id, to=[*names[1:], *groups], values=len(asked), objects=len(refs)
    )
    return get_rfi(conn, principal, stix_id)


def _readable(conn: Connection, principal: Principal, rfi_id: str) -> tuple[Row[Any], dict[str, Any]]:
    row = repo.readable_rfi(conn, principal, rfi_id) if ID_RE.match(rfi_id) else None
    if row is None:
        raise NotFound(f"no request {rfi_id}")
    return row, orjson.loads(repo.raw_version(conn, row.seq))


def _addressed(conn: Connection, row: Row[Any], body: dict[str, Any]) -> list[int]:
    """The addressed organisations: those named and the current members of the groups named (not the asker)."""
    found = member_ids(conn, body, "addressee_refs", "addressee_groups") - {row.owner_org_id}
    return sorted(found)


def get_rfi(conn: Connection, principal: Principal, rfi_id: str) -> dict[str, Any]:
    """A request with the answers the caller may read and each addressed organisation's response time."""
    row, body = _readable(conn, principal, rfi_id)
    addressed = _addressed(conn, row, body)
    names = repo.org_names(conn, [row.owner_org_id, *addressed])
    answers = []
    first: dict[int, int] = {}
    for a in repo.answers(conn, principal, row.id):
        note = orjson.loads(a.raw)
        answers.append(
            {
                "id": note["id"],
                "org": a.org,
                "author": (note.get("authors") or [""])[0],
                "at": objects.timestamp(a.at_us),
                "content": note["content"],
                "objects": note["object_refs"][1:],
            }
        )
        first.setdefault(a.org_id, a.at_us)
    return {
        "id": row.stix_id,
        "title": body["name"],
        "question": body.get("question", ""),
        "from": names.get(row.owner_org_id, ""),
        "to": sorted(names[o] for o in addressed),
        "groups": body.get("addressee_groups", []),
        "values": body.get("values", []),
        "object_ids": body.get("object_refs", []),
        "due": row.due,
        "tlp": Tlp(row.tlp).label,
        "status": row.status,
        "status_reason": body.get("status_reason", ""),
        "created": objects.timestamp(row.created_us),
        "answers": answers,
        "response_seconds": {
            names[o]: (first[o] - row.created_us) // 1_000_000 if o in first else None for o in addressed
        },
    }


def list_rfis(conn: Connection, principal: Principal, *, before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Readable requests (asked by or addressed to the caller's organisation), newest first; `_key` the keyset."""
    return [
        {
            "_key": r.id,
            "id": r.stix_id,
            "title": r.title,
            "from": r.owner,
            "status": r.status,
            "due": r.due,
            "tlp": Tlp(r.tlp).label,
            "created": objects.timestamp(r.created_us),
        }
        for r in repo.list_rfis(conn, principal, before_id=before_id, limit=limit)
    ]


def answer(
    conn: Connection, principal: Principal, rfi_id: str, content: str, object_ids: list[str] | None = None
) -> dict[str, Any]:
    """Answer a request addressed to the caller's organisation, with text and/or objects (its own are shared)."""
    row, body = _readable(conn, principal, rfi_id)
    if principal.org_id not in _addressed(conn, row, body):
        raise Forbidden("this request is not addressed to your organisation")
    if row.status == "closed":
        raise Conflict("this request is closed")
    refs = check_ids(list(object_ids or []))
    if not content.strip() and not refs:
        raise BadRequest("an answer needs text or objects")
    at = now_us()
    note = objects.note_object(
        owner_ref=org_ref(conn, principal.org_id),
        at=objects.timestamp(at),
        author=actor_of(principal),
        content=content or "(objects)",
        refs=[row.stix_id, *refs],
        tlp=Tlp(row.tlp),
    )
    (seq,) = store(conn, principal, row.collection_id, [note])
    share_own(conn, principal, row.collection_id, refs)
    repo.add_answer(conn, row.id, principal.org_id, seq, at)
    summary = f"{actor_of(principal)} answered {row.title!r}: {content[:200]}"
    notify(
        conn, [row.asked_by], actor=principal.email, seq=seq, kind="rfi.answer", subject=row.stix_id, summary=summary
    )
    if row.status == "open":
        repo.update_rfi(conn, row.id, status="answered", updated_us=at)
    record(conn, actor_of(principal), "rfi.answer", rfi_id, note=note["id"], objects=len(refs))
    return {"id": note["id"], "created": note["created"]}


def close(conn: Connection, principal: Principal, rfi_id: str, reason: str = "") -> dict[str, Any]:
    """Close a request (the asking organisation only): a new version of it."""
    row, body = _readable(conn, principal, rfi_id)
    if row.owner_org_id != principal.org_id:
        raise Forbidden("only the organisation that asked closes a request")
    if row.status == "closed":
        raise Conflict("this request is already closed")
    fields = {
        "name": body["name"],
        "question": body.get("question", ""),
        "addressee_refs": body.get("addressee_refs", []),
        "addressee_groups": body.get("addressee_groups", []),
        "values": body.get("values", []),
        "object_refs": body.get("object_refs", []),
        "due": body.get("due"),
        "status": "closed",
        "status_reason": reason.strip(),
        "tlp": row.tlp,
    }
    modified = next_modified(body["modified"])
    new = objects.rfi_object(
        stix_id=row.stix_id, owner_ref=body["created_by_ref"], created=body["created"], modified=modified, fields=fields
    )
    (seq,) = store(conn, principal, row.collection_id, [new])
    repo.update_rfi(conn, row.id, seq=seq, status="closed", updated_us=timestamp_to_micros(modified))
    record(conn, actor_of(principal), "rfi.close", rfi_id)
    return get_rfi(conn, principal, rfi_id)


# --- requests and answers received as STIX content (accord.joint.projection) -------------------------------------


def project_rfi(conn: Connection, v: Any, body: dict[str, Any]) -> None:
    """A received version of a request: a new row, or the newest version of the asker's request (an older one
    arriving late changes nothing; every version stays in the object history)."""
    name, status = body.get("name"), body.get("status")
    if not isinstance(name, str) or status not in ("open", "closed"):
        return  # not a request this node can show; it stays stored and readable as STIX content
    due = received_timestamp(body.get("due"))
    at = timestamp_to_micros(v.version)
    row = repo.rfi_by_stix_id(conn, body["id"])
    if row is None:
        collection_id = repo.collection_of_version(conn, v.seq)
        if collection_id is None:
            return
        repo.insert_rfi(
            conn,
            {
                "stix_id": body["id"],
                "collection_id": collection_id,
                "owner_org_id": v.owner_org_id,
                "seq": v.seq,
                "status": status,
                "title": name[:300],
                "due": due,
                "tlp": int(tlp_of(body) or Tlp.AMBER),
                "created_us": timestamp_to_micros(body.get("created", v.version)),
                "updated_us": at,
                "asked_by": "",  # asked on another node: no user here to notify
            },
        )
        return
    if v.owner_org_id != row.owner_org_id or at <= timestamp_to_micros(repo.version_of(conn, row.seq)):
        return  # only the asker's versions change a request (W2), and only a newer one
    # "answered" is this node's reading of the answers it holds: an open version does not undo it.
    kept = row.status if status == "open" and row.status == "answered" else status
    repo.update_rfi(conn, row.id, seq=v.seq, status=kept, title=name[:300], due=due, updated_us=at)


def project_answer(conn: Connection, v: Any, note: dict[str, Any]) -> None:
    """A received note on a request: an answer when its organisation is one the request is addressed to (anyone
    else's note stays plain content); the asker is notified and an open request becomes answered."""
    row = repo.rfi_by_stix_id(conn, note["object_refs"][0])
    if row is None:
        return
    body = orjson.loads(repo.raw_version(conn, row.seq))
    if v.owner_org_id not in _addressed(conn, row, body):
        return
    at = timestamp_to_micros(v.version)
    repo.add_answer(conn, row.id, v.owner_org_id, v.seq, at)
    author = (note.get("authors") or [""])[0]
    summary = f"{author or 'a partner'} answered {row.title!r}: {str(note.get('content', ''))[:200]}"
    notify(conn, [row.asked_by], actor="", seq=v.seq, kind="rfi.answer", subject=row.stix_id, summary=summary)
    if row.status == "open":
        repo.update_rfi(conn, row.id, status="answered", updated_us=max(at, row.updated_us))
