"""`accord case ...` and `accord task ...`: joint work across organisations, as a named user (`--as EMAIL`).

The commands call the same service functions as the REST API; what the user may not read does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import orjson
import typer

from accord.cli.common import fail, out, reading, unit_of_work
from accord.core.errors import Forbidden

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from accord.sharing.policy import Principal

case_app = typer.Typer(help="Joint cases: open, share with partners, track, resolve.", no_args_is_help=True)
task_app = typer.Typer(help="Tasks of joint cases and their logs.", no_args_is_help=True)
rfi_app = typer.Typer(help="Requests for information between partner organisations.", no_args_is_help=True)
pir_app = typer.Typer(help="Joint intelligence requirements and what matched them.", no_args_is_help=True)
AS = typer.Option(..., "--as", help="act as this user (e-mail)")
P = ParamSpec("P")
T = TypeVar("T")


def _who(conn: Connection, email: str, *, write: bool) -> Principal:
    from accord.accounts.service import principal_for_email

    principal = principal_for_email(conn, email)
    if write and not principal.can_write:
        raise Forbidden(f"{email} has a role that cannot write")
    return principal


def _as_writer(
    as_user: str, service: Callable[Concatenate[Connection, Principal, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`service(conn, user, ...)` in one unit of work, as a user who may write."""
    with unit_of_work() as conn:
        return service(conn, _who(conn, as_user, write=True), *args, **kwargs)


def _as_reader(
    as_user: str, service: Callable[Concatenate[Connection, Principal, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """`service(conn, user, ...)` in a read-only snapshot."""
    with reading() as conn:
        return service(conn, _who(conn, as_user, write=False), *args, **kwargs)


def _show(data: Any) -> None:
    out.print(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode(), markup=False, highlight=False)


def _public(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in i.items() if k != "_key"} for i in items]


@case_app.command("create")
def case_create(
    title: str = typer.Argument(..., help="the case's title"),
    as_user: str = AS,
    description: str = typer.Option("", "--description"),
    severity: str = typer.Option("medium", "--severity", help="low | medium | high | critical"),
    priority: str = typer.Option("medium", "--priority", help="low | medium | high | critical"),
    tlp: str = typer.Option("amber", "--tlp", help="clear | green | amber"),
    participants: list[str] = typer.Option(
        [], "--participant", help="a participating organisation or sharing group (repeatable)"
    ),
    assignees: list[str] = typer.Option([], "--assignee", help="a user's e-mail (repeatable)"),
    labels: list[str] = typer.Option([], "--label", help="a label (repeatable)"),
    links: list[str] = typer.Option([], "--link", help="an object id to link (repeatable)"),
    from_report: str | None = typer.Option(None, "--from-report", help="link this report and its objects"),
) -> None:
    """Open a case owned by the user's organisation; prints the case as JSON."""
    from accord.joint.service import create_case

    case = _as_writer(
        as_user,
        create_case,
        title=title,
        description=description,
        severity=severity,
        priority=priority,
        tlp=tlp,
        participants=participants,
        assignees=assignees,
        labels=labels,
        object_ids=links,
        from_report=from_report,
    )
    _show(case)


@case_app.command("list")
def case_list(
    as_user: str = AS,
    status: str | None = typer.Option(None, "--status", help="open | in_progress | resolved | closed"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
) -> None:
    """The cases the user may read, newest first: id, status, severity, owner, title."""
    from accord.joint.service import list_cases

    rows = _as_reader(as_user, list_cases, before_id=None, limit=limit, status=status)
    for r in rows:
        out.print(f"{r['id']}  {r['status']:<11}  {r['severity']:<8}  {r['owner']}  {r['title']}", markup=False)


@case_app.command("show")
def case_show(case_id: str = typer.Argument(...), as_user: str = AS) -> None:
    """A case with its first tasks and its timeline, as JSON."""
    from accord.joint.service import case_view, timeline
    from accord.joint.work import list_case_tasks

    with reading() as conn:
        who = _who(conn, as_user, write=False)
        case = case_view(conn, who, case_id)
        tasks = list_case_tasks(conn, who, case_id, after_id=None, limit=100)
        events = timeline(conn, who, case_id, after_id=None, limit=1000)
    _show(case | {"task_list": _public(tasks), "timeline": _public(events)})


@case_app.command("edit")
def case_edit(
    case_id: str = typer.Argument(...),
    as_user: str = AS,
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description"),
    severity: str | None = typer.Option(None, "--severity"),
    priority: str | None = typer.Option(None, "--priority"),
    tlp: str | None = typer.Option(None, "--tlp"),
    assignees: list[str] | None = typer.Option(None, "--assignee", help="replaces the assignees (repeatable)"),
    labels: list[str] | None = typer.Option(None, "--label", help="replaces the labels (repeatable)"),
    base_version: str | None = typer.Option(None, "--base-version", help="the version you edited"),
) -> None:
    """Change a case's fields (its owning organisation only)."""
    from accord.joint.service import update_case

    given = {"title": title, "description": description, "severity": severity, "priority": priority, "tlp": tlp}
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if assignees:
        changes["assignees"] = assignees
    if labels:
        changes["labels"] = labels
    case = _as_writer(as_user, update_case, case_id, changes, base_version=base_version)
    out.print(f"{case['id']} is at version {case['version']}", markup=False)


@case_app.command("status")
def case_status(
    case_id: str = typer.Argument(...),
    status: str = typer.Argument(..., help="open | in_progress | resolved | closed"),
    as_user: str = AS,
    reason: str = typer.Option("", "--reason", help="needed to resolve, close or reopen"),
) -> None:
    """Move a case to another status (its owning organisation only)."""
    from accord.joint.service import change_status

    case = _as_writer(as_user, change_status, case_id, status, reason)
    out.print(f"{case['id']} is {case['status']}", markup=False)


@case_app.command("participants")
def case_participants(
    case_id: str = typer.Argument(...),
    as_user: str = AS,
    add: list[str] = typer.Option([], "--add", help="an organisation or sharing group to add (repeatable)"),
    remove: list[str] = typer.Option([], "--remove", help="an organisation or sharing group to remove (repeatable)"),
) -> None:
    """Add or remove participating organisations (the owning organisation only)."""
    from accord.joint.service import change_participants

    case = _as_writer(as_user, change_participants, case_id, add=add, remove=remove)
    out.print(f"participants: {', '.join(case['participants'])}", markup=False)


@case_app.command("link")
def case_link(
    case_id: str = typer.Argument(...),
    object_ids: list[str] = typer.Argument(..., help="object ids to link"),
    as_user: str = AS,
) -> None:
    """Link objects to a case (any participant)."""
    from accord.joint.service import link_objects

    result = _as_writer(as_user, link_objects, case_id, object_ids)
    out.print(f"linked {result['linked']}, already linked {result['already_linked']}", markup=False)


@case_app.command("comment")
def case_comment(case_id: str = typer.Argument(...), text: str = typer.Argument(...), as_user: str = AS) -> None:
    """Comment on a case (any participant)."""
    from accord.joint.service import comment

    note = _as_writer(as_user, comment, case_id, text)
    out.print(note["id"], markup=False)


@task_app.command("add")
def task_add(
    case_id: str = typer.Argument(...),
    title: str = typer.Argument(...),
    as_user: str = AS,
    description: str = typer.Option("", "--description"),
    assignee: str | None = typer.Option(None, "--assignee", help="a user of a participating organisation"),
    due: str | None = typer.Option(None, "--due", help="a STIX timestamp, e.g. 2026-12-31T00:00:00Z"),
) -> None:
    """Add a task to a case (any participant); prints its id."""
    from accord.joint.work import add_task

    task = _as_writer(
        as_user,
        add_task,
        case_id,
        title=title,
        description=description,
        assignee=assignee,
        due=due,
    )
    out.print(task["id"], markup=False)


@task_app.command("list")
def task_list(
    as_user: str = AS,
    mine: bool = typer.Option(False, "--mine", help="the tasks assigned to you, across cases"),
    case_id: str | None = typer.Option(None, "--case", help="the tasks of one case"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
) -> None:
    """Your queue (--mine) or a case's tasks (--case): id, status, assignee, due, title."""
    from accord.joint.work import list_case_tasks, my_tasks

    if mine == (case_id is not None):
        fail("give --mine or --case ID")
    with reading() as conn:
        who = _who(conn, as_user, write=False)
        rows = (
            my_tasks(conn, who, after_id=None, limit=limit)
            if mine
            else list_case_tasks(conn, who, case_id or "", after_id=None, limit=limit)
        )
    for r in rows:
        line = f"{r['id']}  {r['status']:<7}  {r['assignee'] or '-'}  {r['due'] or '-'}  {r['title']}"
        out.print(line, markup=False)


@task_app.command("show")
def task_show(task_id: str = typer.Argument(...), as_user: str = AS) -> None:
    """A task with its log, as JSON."""
    from accord.joint.work import get_task

    _show(_as_reader(as_user, get_task, task_id))


@task_app.command("update")
def task_update(
    task_id: str = typer.Argument(...),
    as_user: str = AS,
    status: str | None = typer.Option(None, "--status", help="todo | doing | blocked | done"),
    assignee: str | None = typer.Option(None, "--assignee", help="a user's e-mail; '' unassigns"),
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description"),
    due: str | None = typer.Option(None, "--due"),
    note: str = typer.Option("", "--note", help="log the change with this text"),
) -> None:
    """Change a task's status or assignee (any participant) or its details (its organisation)."""
    from accord.joint.work import update_task

    task = _as_writer(
        as_user,
        update_task,
        task_id,
        status=status,
        assignee=assignee,
        title=title,
        description=description,
        due=due,
        note=note,
    )
    out.print(f"{task['id']} is {task['status']}, assigned to {task['assignee'] or 'nobody'}", markup=False)


@task_app.command("log")
def task_log(
    task_id: str = typer.Argument(...),
    text: str = typer.Argument(...),
    as_user: str = AS,
    evidence: list[str] = typer.Option([], "--evidence", help="an evidence object id (repeatable)"),
) -> None:
    """Append a log entry to a task (any participant)."""
    from accord.joint.work import log_task

    entry = _as_writer(as_user, log_task, task_id, text, evidence)
    out.print(entry["id"], markup=False)


@rfi_app.command("ask")
def rfi_ask(
    title: str = typer.Argument(...),
    as_user: str = AS,
    to: list[str] = typer.Option(..., "--to", help="an organisation or sharing group asked (repeatable)"),
    question: str = typer.Option("", "--question"),
    values: list[str] = typer.Option([], "--value", help="a value asked about (repeatable)"),
    object_ids: list[str] = typer.Option([], "--object", help="an object id asked about (repeatable)"),
    due: str | None = typer.Option(None, "--due", help="a STIX timestamp"),
    tlp: str = typer.Option("amber", "--tlp", help="clear | green | amber"),
) -> None:
    """Ask partner organisations; prints the request's id."""
    from accord.joint.rfi import ask

    req = _as_writer(
        as_user,
        ask,
        title=title,
        question=question,
        to=to,
        values=values,
        object_ids=object_ids,
        due=due,
        tlp=tlp,
    )
    out.print(req["id"], markup=False)


@rfi_app.command("list")
def rfi_list(as_user: str = AS, limit: int = typer.Option(50, "--limit", min=1, max=10_000)) -> None:
    """Requests asked by or addressed to the user's organisation: id, status, from, due, title."""
    from accord.joint.rfi import list_rfis

    rows = _as_reader(as_user, list_rfis, before_id=None, limit=limit)
    for r in rows:
        out.print(f"{r['id']}  {r['status']:<8}  {r['from']}  {r['due'] or '-'}  {r['title']}", markup=False)


@rfi_app.command("show")
def rfi_show(rfi_id: str = typer.Argument(...), as_user: str = AS) -> None:
    """A request with its answers and response times, as JSON."""
    from accord.joint.rfi import get_rfi

    _show(_as_reader(as_user, get_rfi, rfi_id))


@rfi_app.command("answer")
def rfi_answer(
    rfi_id: str = typer.Argument(...),
    text: str = typer.Argument(""),
    as_user: str = AS,
    object_ids: list[str] = typer.Option([], "--object", help="an object id shared in the answer (repeatable)"),
) -> None:
    """Answer a request addressed to the user's organisation."""
    from accord.joint.rfi import answer

    note = _as_writer(as_user, answer, rfi_id, text, object_ids)
    out.print(note["id"], markup=False)


@rfi_app.command("close")
def rfi_close(rfi_id: str = typer.Argument(...), as_user: str = AS, reason: str = typer.Option("", "--reason")) -> None:
    """Close a request (the asking organisation only)."""
    from accord.joint.rfi import close

    req = _as_writer(as_user, close, rfi_id, reason)
    out.print(f"{req['id']} is {req['status']}", markup=False)


def _criteria(
    names: list[str],
    techniques: list[str],
    sectors: list[str],
    countries: list[str],
    keywords: list[str],
    domains: list[str],
    cidrs: list[str],
) -> dict[str, list[str]]:
    return {
        "names": names,
        "techniques": techniques,
        "sectors": sectors,
        "countries": countries,
        "keywords": keywords,
        "domains": domains,
        "cidrs": cidrs,
    }


NAMES = typer.Option([], "--name", help="a threat actor, intrusion set or malware name (repeatable)")
TECHNIQUES = typer.Option([], "--technique", help="an ATT&CK technique id, e.g. T1566 (repeatable)")
SECTORS = typer.Option([], "--sector", help="a sector (repeatable)")
COUNTRIES = typer.Option([], "--country", help="an ISO 3166-1 alpha-2 code (repeatable)")
KEYWORDS = typer.Option([], "--keyword", help="a keyword (repeatable)")
DOMAINS = typer.Option([], "--domain", help="a domain suffix, e.g. evil.example (repeatable)")
CIDRS = typer.Option([], "--cidr", help="an IP network, e.g. 198.51.100.0/24 (repeatable)")


@pir_app.command("create")
def pir_create(
    title: str = typer.Argument(...),
    as_user: str = AS,
    description: str = typer.Option("", "--description"),
    participants: list[str] = typer.Option(
        [], "--participant", help="a participating organisation or sharing group (repeatable)"
    ),
    tlp: str = typer.Option("amber", "--tlp", help="clear | green | amber"),
    names: list[str] = NAMES,
    techniques: list[str] = TECHNIQUES,
    sectors: list[str] = SECTORS,
    countries: list[str] = COUNTRIES,
    keywords: list[str] = KEYWORDS,
    domains: list[str] = DOMAINS,
    cidrs: list[str] = CIDRS,
) -> None:
    """A requirement owned by the user's organisation; prints its id."""
    from accord.joint.pir import create_pir

    criteria = _criteria(names, techniques, sectors, countries, keywords, domains, cidrs)
    req = _as_writer(
        as_user,
        create_pir,
        title=title,
        description=description,
        participants=participants,
        tlp=tlp,
        criteria=criteria,
    )
    out.print(req["id"], markup=False)


@pir_app.command("list")
def pir_list(as_user: str = AS, limit: int = typer.Option(50, "--limit", min=1, max=10_000)) -> None:
    """Requirements owned by or shared with the user's organisation: id, status, owner, title."""
    from accord.joint.pir import list_pirs

    rows = _as_reader(as_user, list_pirs, before_id=None, limit=limit)
    for r in rows:
        out.print(f"{r['id']}  {r['status']:<8}  {r['owner']}  {r['title']}", markup=False)


@pir_app.command("show")
def pir_show(pir_id: str = typer.Argument(...), as_user: str = AS) -> None:
    """A requirement as JSON."""
    from accord.joint.pir import get_pir

    _show(_as_reader(as_user, get_pir, pir_id))


@pir_app.command("edit")
def pir_edit(
    pir_id: str = typer.Argument(...),
    as_user: str = AS,
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description"),
    status: str | None = typer.Option(None, "--status", help="active | inactive"),
    names: list[str] = NAMES,
    techniques: list[str] = TECHNIQUES,
    sectors: list[str] = SECTORS,
    countries: list[str] = COUNTRIES,
    keywords: list[str] = KEYWORDS,
    domains: list[str] = DOMAINS,
    cidrs: list[str] = CIDRS,
) -> None:
    """Change a requirement (its organisation only); criteria given replace all the old ones."""
    from accord.joint.pir import update_pir

    criteria = _criteria(names, techniques, sectors, countries, keywords, domains, cidrs)
    req = _as_writer(
        as_user,
        update_pir,
        pir_id,
        title=title,
        description=description,
        status=status,
        criteria=criteria if any(criteria.values()) else None,
    )
    out.print(f"{req['id']} is {req['status']}", markup=False)


@pir_app.command("matches")
def pir_matches(
    pir_id: str = typer.Argument(...), as_user: str = AS, limit: int = typer.Option(50, "--limit", min=1, max=10_000)
) -> None:
    """What matched a requirement, newest first (what the user may read): object id, matched criterion, name."""
    from accord.joint.pir import matches

    rows = _as_reader(as_user, matches, pir_id, before_id=None, limit=limit)
    for m in rows:
        out.print(f"{m['object_id']}  {m['matched']}  {m['name']}", markup=False)
