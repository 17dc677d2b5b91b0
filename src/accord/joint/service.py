"""Cases: create (from a report or a set of objects), read, list, edit, status, participants, links, comments,
timeline. Each change is a new STIX version stored through the object store into the case's own collection,
whose readers and writers are the participating organisations; the sharing policy decides every read.

Services flush; the boundary (request, CLI command) commits.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from accord.joint.projection import conflict_summary, local_write
from accord.sharing.policy import Principal
from accord.stix.ids import ID_RE
from accord.stix.markings import Tlp
from accord.stix.timestamps import timestamp_to_micros
from accord.store import queries
from accord.store.service import WriteContext, ingest

MAX_LINKS_PER_CALL = 10_000


@dataclass(frozen=True, slots=True)
class CaseRef:
    """A case the caller may read, with what write checks need."""

    row: Row[Any]
    body: dict[str, Any]
    participants: frozenset[int]  # organisation ids, the owner included


def actor_of(principal: Principal) -> str:
    """Who acts, for timelines and the audit log."""
    return principal.email or f"org:{principal.org_id}"


def org_ref(conn: Connection, org_id: int) -> str:
    """The identity object id of an organisation (created_by_ref of what it writes)."""
    return str(accounts.get_org(conn, org_id).stix_id)


def parse_tlp(text: str) -> Tlp:
    """A case TLP: CLEAR, GREEN or AMBER (participants must be able to read the case)."""
    try:
        tlp = Tlp.parse(text)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if tlp not in objects.CASE_TLPS:
        raise BadRequest(
            f"a case is TLP:CLEAR, TLP:GREEN or TLP:AMBER (its participants must read it), not {tlp.label}"
        )
    return tlp


def check_ids(ids: list[str], what: str = "object id") -> list[str]:
    """Well-formed STIX ids, de-duplicated in order; 400 naming the first bad one."""
    for i in ids:
        if not isinstance(i, str) or ID_RE.match(i) is None:
            raise BadRequest(f"{what} {i!r} is not a valid STIX identifier")
    if len(ids) > MAX_LINKS_PER_CALL:
        raise BadRequest(f"at most {MAX_LINKS_PER_CALL} objects per call")
    return list(dict.fromkeys(ids))


def store(conn: Connection, principal: Principal, collection_id: int, objs: list[dict[str, Any]]) -> list[int]:
    """Store new versions into a case's collection as the caller's organisation; their seqs, in order."""
    ctx = WriteContext(writer_org_id=principal.org_id, collection_id=collection_id, reader=principal)
    with local_write():  # the services write the derived rows of what they store themselves
        report = ingest(conn, objs, ctx)
    if report.refused or report.stored != len(objs):
        raise BadRequest(report.reasons[0] if report.reasons else "the change was not stored")
    return report.stored_seqs


def share_own(conn: Connection, principal: Principal, collection_id: int, object_ids: list[str]) -> int:
    """Publish the caller organisation's own objects among these into the case's collection, so that the
    participants read them (R3/R4); others' objects stay under their own sharing. How many were shared."""
    raws = repo.own_latest_versions(conn, principal.org_id, object_ids)
    if raws:
        ctx = WriteContext(writer_org_id=principal.org_id, collection_id=collection_id, reader=principal)
        with local_write():
            ingest(conn, (orjson.loads(r) for r in raws), ctx)
    return len(raws)


def next_modified(previous: str) -> str:
    """A modified later than the previous version's, close to now."""
    return objects.timestamp(max(now_us(), timestamp_to_micros(previous) + 1))


def member_ids(
    conn: Connection, body: dict[str, Any], refs: str = "participant_refs", groups: str = "participant_groups"
) -> frozenset[int]:
    """The organisations an object names (identity refs) and the current members of the sharing groups it names:
    a change of a group's members takes effect at once."""
    named = repo.org_ids_by_identity(conn, body.get(refs, [])).values()
    return frozenset(named) | repo.group_member_ids(conn, body.get(groups, []))


def _participant_ids(conn: Connection, body: dict[str, Any]) -> frozenset[int]:
    return member_ids(conn, body)


def resolve_parties(conn: Connection, names: list[str], *, remote: bool = False) -> tuple[list[Any], list[str]]:
    """Organisations (rows) and sharing groups (names) named as participants: a name is an organisation, else a
    sharing group (as for collection grants); 404 when neither. A remote organisation record (a partner on
    another node, `accord org create --remote-identity`) takes part only where `remote` says so (cases); 400
    otherwise."""
    orgs: list[Any] = []
    groups: list[str] = []
    for name in dict.fromkeys(names):
        found = accounts.get_org_by_name(conn, name)
        if found is not None:
            if found.is_remote and not remote:
                raise BadRequest(f"{found.name!r} is a remote organisation record; name an organisation of this node")
            orgs.append(found)
            continue
        group = accounts.get_group_by_name(conn, name)
        if group is None:
            raise NotFound(f"no organisation or sharing group named {name!r}")
        groups.append(str(group.name))
    return orgs, groups


def get_case_ref(conn: Connection, principal: Principal, case_id: str) -> CaseRef:
    """A case the caller may read; NotFound otherwise (unreadable and missing answer alike: R7, W3)."""
    row = repo.readable_case(conn, principal, case_id) if ID_RE.match(case_id) else None
    if row is None:
        raise NotFound(f"no case {case_id}")
    body = orjson.loads(repo.raw_version(conn, row.seq))
    return CaseRef(row, body, _participant_ids(conn, body) | {row.owner_org_id})


def case_for_contribution(conn: Connection, principal: Principal, case_id: str) -> CaseRef:
    """A case the caller's organisation takes part in (it may add tasks, comments and links)."""
    ref = get_case_ref(conn, principal, case_id)
    if principal.org_id not in ref.participants:
        raise Forbidden("your organisation does not take part in this case")
    return ref


def case_for_owner(conn: Connection, principal: Principal, case_id: str) -> CaseRef:
    """A case the caller's organisation owns (it changes participants, status, TLP and the case's fields)."""
    ref = get_case_ref(conn, principal, case_id)
    if principal.org_id != ref.row.owner_org_id:
        raise Forbidden("only the organisation that owns the case changes it")
    return ref


def _participant_refs(conn: Connection, owner_org_id: int, rows: list[Any]) -> list[str]:
    ids = {owner_org_id: org_ref(conn, owner_org_id)} | {r.id: r.stix_id for r in rows}
    return list(ids.values())


def check_assignees(conn: Connection, participants: frozenset[int], emails: list[str]) -> list[str]:
    """The e-mails, each a user of a participating organisation (400 otherwise, alike for unknown users)."""
    for email in emails:
        user = accounts.get_user_by_email(conn, email)
        if user is None or user.org_id not in participants:
            raise BadRequest(f"{email!r} is not a user of a participating organisation")
    return list(dict.fromkeys(emails))


def _readable_report_refs(conn: Connection, principal: Principal, report_id: str) -> list[str]:
    report = queries.get_latest(conn, principal, report_id) if ID_RE.match(report_id) else None
    if report is None or report.get("type") not in ("report", "grouping"):
        raise NotFound(f"no report {report_id}")
    return [report_id, *[r for r in report.get("object_refs", []) if isinstance(r, str)]]


def create_case(
    conn: Connection,
    principal: Principal,
    *,
    title: str,
    description: str = "",
    severity: str = "medium",
    priority: str = "medium",
    tlp: str = "amber",
    participants: list[str] | None = None,
    assignees: list[str] | None = None,
    labels: list[str] | None = None,
    object_ids: list[str] | None = None,
    from_report: str | None = None,
) -> dict[str, Any]:
    """Open a case owned by the caller's organisation, linking a report's objects and/or the given objects."""
    if not title.strip():
        raise BadRequest("a case needs a title")
    for name, value in (("severity", severity), ("priority", priority)):
        if value not in objects.SEVERITIES:
            raise BadRequest(f"{name} must be one of {', '.join(objects.SEVERITIES)}")
    level = parse_tlp(tlp)
    refs = check_ids(list(object_ids or []))
    if from_report is not None:
        refs = check_ids([*_readable_report_refs(conn, principal, from_report), *refs])
    rows, groups = resolve_parties(conn, participants or [], remote=True)
    participant_refs = _participant_refs(conn, principal.org_id, rows)
    members = frozenset({principal.org_id, *(r.id for r in rows)}) | repo.group_member_ids(conn, groups)
    stix_id = objects.new_id(objects.CASE_TYPE)
    names = list(repo.org_names(conn, {principal.org_id, *(r.id for r in rows)}).values())
    coll = accounts.create_collection(
        conn,
        f"Case: {title.strip()[:200]}",
        "case-" + stix_id.partition("--")[2],
        readers=[*names, *groups],
        writers=[*names, *groups],
        description=f"The shared collection of case {stix_id}",
        actor=actor_of(principal),
    )
    at = now_us()
    ts = objects.timestamp(at)
    fields: dict[str, Any] = {
        "name": title.strip(),
        "description": description,
        "severity": severity,
        "priority": priority,
        "status": "open",
        "status_reason": "",
        "participant_refs": participant_refs,
        "participant_groups": groups,
        "assignees": check_assignees(conn, members, list(assignees or [])),
        "labels": list(dict.fromkeys(labels or [])),
        "object_refs": refs,
        "tlp": int(level),
    }
    body = objects.case_object(
        stix_id=stix_id, owner_ref=org_ref(conn, principal.org_id), created=ts, modified=ts, fields=fields
    )
    (seq,) = store(conn, principal, coll.id, [body])
    case_pk = repo.insert_case(
        conn,
        {
            "stix_id": stix_id,
            "collection_id": coll.id,
            "owner_org_id": principal.org_id,
            "seq": seq,
            "version": ts,
            "status": "open",
            "title": fields["name"][:300],
            "severity": severity,
            "priority": priority,
            "tlp": int(level),
            "created_us": at,
            "updated_us": at,
            "opened_by": principal.email,
        },
    )
    repo.insert_links(conn, case_pk, refs, seq)
    share_own(conn, principal, coll.id, refs)
    repo.add_event(conn, case_pk, seq, "case.create", actor_of(principal), f"opened with {len(refs)} linked objects")
    record(conn, actor_of(principal), "case.create", stix_id, participants=names, groups=groups, linked=len(refs))
    return case_view(conn, principal, stix_id)


def case_view(conn: Connection, principal: Principal, case_id: str) -> dict[str, Any]:
    """A case as its reader sees it: fields, owner, participants, counts of readable tasks and of the links in
    readable versions (the linked objects themselves, each filtered, are listed by linked_objects)."""
    return view_of(conn, principal, get_case_ref(conn, principal, case_id))


def view_of(conn: Connection, principal: Principal, ref: CaseRef) -> dict[str, Any]:
    """case_view of a case already found readable."""
    fields = objects.case_fields(ref.body)
    names = repo.org_names(conn, ref.participants)
    return {
        "id": ref.row.stix_id,
        "version": ref.row.version,
        "title": fields["name"],
        "description": fields["description"],
        "severity": fields["severity"],
        "priority": fields["priority"],
        "status": fields["status"],
        "status_reason": fields["status_reason"],
        "tlp": Tlp(fields["tlp"]).label,
        "owner": names.get(ref.row.owner_org_id, ""),
        "participants": sorted(names.values()),
        "groups": fields["participant_groups"],
        "assignees": fields["assignees"],
        "labels": fields["labels"],
        "collection": f"case-{ref.row.stix_id.partition('--')[2]}",
        "tasks": repo.count_tasks(conn, principal, ref.row.id),
        "links": repo.count_links(conn, principal, ref.row.id),
        "created": objects.timestamp(ref.row.created_us),
        "updated": objects.timestamp(ref.row.updated_us),
    }


def list_cases(
    conn: Connection, principal: Principal, *, before_id: int | None, limit: int, status: str | None = None
) -> list[dict[str, Any]]:
    """Readable cases, newest first (limit + 1 rows tell the caller whether there is more); `_key` is the keyset."""
    if status is not None and status not in objects.CASE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(objects.CASE_STATUSES)}")
    rows = repo.list_cases(conn, principal, before_id=before_id, limit=limit, status=status)
    return [
        {
            "_key": r.id,
            "id": r.stix_id,
            "title": r.title,
            "status": r.status,
            "severity": r.severity,
            "priority": r.priority,
            "tlp": Tlp(r.tlp).label,
            "owner": r.owner,
            "updated": objects.timestamp(r.updated_us),
        }
        for r in rows
    ]


def _new_case_version(
    conn: Connection,
    principal: Principal,
    ref: CaseRef,
    changes: dict[str, Any],
    *,
    kind: str,
    summary: str,
    base_version: str | None = None,
) -> int:
    """Store the next version of a case with `changes` applied; its seq. An edit based on an older version
    than the newest still wins (latest modified) and is marked as a conflict in the timeline."""
    fields = objects.case_fields(ref.body) | changes
    modified = next_modified(ref.row.version)
    body = objects.case_object(
        stix_id=ref.row.stix_id,
        owner_ref=ref.body["created_by_ref"],
        created=ref.body["created"],
        modified=modified,
        fields=fields,
        based_on=base_version or ref.row.version,  # every node that receives it tells a conflict the same way
    )
    (seq,) = store(conn, principal, ref.row.collection_id, [body])
    at = now_us()
    repo.update_case(
        conn,
        ref.row.id,
        seq=seq,
        version=modified,
        status=fields["status"],
        title=fields["name"][:300],
        severity=fields["severity"],
        priority=fields["priority"],
        tlp=fields["tlp"],
        updated_us=at,
    )
    actor = actor_of(principal)
    conflict = conflict_summary(base_version, ref.row.version)
    if conflict is not None:
        repo.add_event(conn, ref.row.id, seq, "conflict", actor, conflict)
    repo.add_event(conn, ref.row.id, seq, kind, actor, summary)
    return seq


def update_case(
    conn: Connection, principal: Principal, case_id: str, changes: dict[str, Any], *, base_version: str | None = None
) -> dict[str, Any]:
    """Change a case's title, description, severity, priority, TLP, assignees or labels (the owner only)."""
    ref = case_for_owner(conn, principal, case_id)
    if base_version is not None:
        try:
            timestamp_to_micros(base_version)
        except ValueError:
            raise BadRequest(f"base_version {base_version!r} is not a STIX timestamp (a version of the case)") from None
    allowed = {"title", "description", "severity", "priority", "tlp", "assignees", "labels"}
    unknown = set(changes) - allowed
    if unknown:
        raise BadRequest(f"cannot change {', '.join(sorted(unknown))} here")
    fields: dict[str, Any] = {}
    if "title" in changes:
        if not str(changes["title"]).strip():
            raise BadRequest("a case needs a title")
        fields["name"] = str(changes["title"]).strip()
    if "description" in changes:
        fields["description"] = changes["description"] or ""
    for name in ("severity", "priority"):
        if name in changes:
            if changes[name] not in objects.SEVERITIES:
                raise BadRequest(f"{name} must be one of {', '.join(objects.SEVERITIES)}")
            fields[name] = changes[name]
    if "tlp" in changes:
        fields["tlp"] = int(parse_tlp(str(changes["tlp"])))
    if "assignees" in changes:
        fields["assignees"] = check_assignees(conn, ref.participants, list(changes["assignees"] or []))
    if "labels" in changes:
        fields["labels"] = list(dict.fromkeys(changes["labels"] or []))
    if not fields:
        raise BadRequest("nothing to change")
    summary = "changed " + ", ".join(sorted(changes))
    _new_case_version(conn, principal, ref, fields, kind="case.edit", summary=summary, base_version=base_version)
    record(conn, actor_of(principal), "case.edit", case_id, fields=sorted(changes))
    return case_view(conn, principal, case_id)


def change_status(
    conn: Connection, principal: Principal, case_id: str, status: str, reason: str = ""
) -> dict[str, Any]:
    """Move a case along open -> in_progress -> resolved -> closed (the owner only); resolving, closing and
    reopening need a reason."""
    ref = case_for_owner(conn, principal, case_id)
    current = ref.row.status
    if status not in objects.CASE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(objects.CASE_STATUSES)}")
    if status not in objects.TRANSITIONS[current]:
        raise Conflict(f"a case that is {current} cannot become {status}")
    needs_reason = status in ("resolved", "closed") or current in ("resolved", "closed")
    if needs_reason and not reason.strip():
        raise BadRequest(f"moving a case from {current} to {status} needs a reason")
    summary = f"{current} -> {status}" + (f": {reason.strip()}" if reason.strip() else "")
    changes = {"status": status, "status_reason": reason.strip()}
    _new_case_version(conn, principal, ref, changes, kind="case.status", summary=summary)
    record(conn, actor_of(principal), "case.status", case_id, status=status, previous=current)
    return case_view(conn, principal, case_id)


def change_participants(
    conn: Connection, principal: Principal, case_id: str, *, add: list[str], remove: list[str]
) -> dict[str, Any]:
    """Add or remove participating organisations or sharing groups (the owner only; the owner always takes part)."""
    ref = case_for_owner(conn, principal, case_id)
    if not add and not remove:
        raise BadRequest("name at least one organisation or sharing group to add or remove")
    added, added_groups = resolve_parties(conn, add, remote=True)
    removed, removed_groups = resolve_parties(conn, remove, remote=True)
    if any(r.id == ref.row.owner_org_id for r in removed):
        raise BadRequest("the owning organisation always takes part in its case")
    named = set(repo.org_ids_by_identity(conn, ref.body.get("participant_refs", [])).values())
    members = (named | {r.id for r in added}) - {r.id for r in removed}
    refs = _participant_refs(conn, ref.row.owner_org_id, [])
    refs += [s for s in ref.body.get("participant_refs", []) if s not in refs]
    keep = repo.org_ids_by_identity(conn, refs)
    refs = [s for s in refs if keep.get(s) in members | {ref.row.owner_org_id}]
    refs += [r.stix_id for r in added if r.stix_id not in refs]
    groups = [g for g in ref.body.get("participant_groups", []) if g not in removed_groups]
    groups += [g for g in added_groups if g not in groups]
    alias = f"case-{ref.row.stix_id.partition('--')[2]}"
    actor = actor_of(principal)
    grant = [r.name for r in added] + added_groups
    revoke = [r.name for r in removed] + removed_groups
    if grant:
        accounts.change_grants(conn, alias, readers=grant, writers=grant, grant=True, actor=actor)
    if revoke:
        accounts.change_grants(conn, alias, readers=revoke, writers=revoke, grant=False, actor=actor)
    parts = [f"added {', '.join(grant)}"] if grant else []
    parts += [f"removed {', '.join(revoke)}"] if revoke else []
    _new_case_version(
        conn,
        principal,
        ref,
        {"participant_refs": refs, "participant_groups": groups},
        kind="case.participants",
        summary="; ".join(parts),
    )
    record(conn, actor, "case.participants", case_id, added=add, removed=remove)
    return case_view(conn, principal, case_id)


def link_objects(conn: Connection, principal: Principal, case_id: str, object_ids: list[str]) -> dict[str, Any]:
    """Link objects to a case: the owner versions the case's object_refs, a participant stores a link grouping."""
    ref = case_for_contribution(conn, principal, case_id)
    ids = check_ids(object_ids)
    if not ids:
        raise BadRequest("name at least one object to link")
    new = [i for i in ids if i not in repo.existing_links(conn, ref.row.id, ids)]
    if new:
        summary = f"linked {len(new)} objects"
        if principal.org_id == ref.row.owner_org_id:
            refs = objects.case_fields(ref.body)["object_refs"] + new
            seq = _new_case_version(conn, principal, ref, {"object_refs": refs}, kind="case.link", summary=summary)
        else:
            grouping = objects.link_grouping(
                owner_ref=org_ref(conn, principal.org_id),
                at=objects.timestamp(now_us()),
                case_ref=ref.row.stix_id,
                refs=new,
                tlp=Tlp(ref.row.tlp),
            )
            (seq,) = store(conn, principal, ref.row.collection_id, [grouping])
            repo.add_event(conn, ref.row.id, seq, "case.link", actor_of(principal), summary)
        repo.insert_links(conn, ref.row.id, new, seq)
        share_own(conn, principal, ref.row.collection_id, new)
    record(conn, actor_of(principal), "case.link", case_id, linked=len(new))
    return {"linked": len(new), "already_linked": len(ids) - len(new)}


def linked_objects(
    conn: Connection, principal: Principal, case_id: str, *, after_id: int | None, limit: int
) -> list[tuple[int, bytes]]:
    """The linked objects of a case the caller may read, as (keyset, raw JSON)."""
    ref = get_case_ref(conn, principal, case_id)
    return [(r.id, r.raw) for r in repo.linked_objects(conn, principal, ref.row.id, after_id=after_id, limit=limit)]


def comment(conn: Connection, principal: Principal, case_id: str, text: str) -> dict[str, Any]:
    """Add a comment (a note on the case) as the caller."""
    ref = case_for_contribution(conn, principal, case_id)
    if not text.strip():
        raise BadRequest("a comment needs text")
    note = objects.note_object(
        owner_ref=org_ref(conn, principal.org_id),
        at=objects.timestamp(now_us()),
        author=actor_of(principal),
        content=text,
        refs=[ref.row.stix_id],
        tlp=Tlp(ref.row.tlp),
    )
    (seq,) = store(conn, principal, ref.row.collection_id, [note])
    repo.add_event(conn, ref.row.id, seq, "comment", actor_of(principal), text[:500])
    concerned = [ref.row.opened_by, *ref.body.get("assignees", [])]
    summary = f"{actor_of(principal)} commented on {ref.row.title!r}: {text[:200]}"
    notify(
        conn, concerned, actor=principal.email, seq=seq, kind="case.comment", subject=ref.row.stix_id, summary=summary
    )
    record(conn, actor_of(principal), "case.comment", case_id, note=note["id"])
    return {"id": note["id"], "author": actor_of(principal), "content": text, "created": note["created"]}


def timeline(
    conn: Connection, principal: Principal, case_id: str, *, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """What happened to a case, oldest first, as far as the caller may read; `_key` is the keyset."""
    ref = get_case_ref(conn, principal, case_id)
    return [
        {
            "_key": e.id,
            "at": objects.timestamp(e.at_us),
            "kind": e.kind,
            "actor": e.actor,
            "summary": e.summary,
        }
        for e in repo.events(conn, principal, ref.row.id, after_id=after_id, limit=limit)
    ]
