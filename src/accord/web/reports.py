"""The report page: its readable objects grouped by type, correlations with partners' content, export."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection

from accord.api.deps import read_conn
from accord.core.errors import NotFound
from accord.correlate import repository as correlate_repo
from accord.correlate import service as correlate_service
from accord.sharing.policy import Principal
from accord.web.render import page
from accord.web.session import web_principal
from accord.web.views import title_of, tlp_label

router = APIRouter(include_in_schema=False)


def _report_and_members(
    conn: Connection, principal: Principal, report_id: str
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """The report, its object_refs and its readable members' bodies (NotFound when it is not a readable report)."""
    row = correlate_repo.latest_readable(conn, principal, report_id)
    if row is None or row.type != "report":
        raise NotFound(f"no report {report_id}")
    report = orjson.loads(row.raw)
    refs = [r for r in report.get("object_refs") or () if isinstance(r, str)]
    return report, refs, [orjson.loads(m.raw) for m in correlate_repo.latest_objects(conn, principal, refs)]


@router.get("/reports/{report_id}")
def report_page(
    request: Request,
    report_id: str,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """A report as its reader may see it: what it holds (readable objects only) and what correlates with it."""
    try:
        report, refs, members = _report_and_members(conn, principal, report_id)
    except NotFound:
        return page(request, "notfound.html", principal, status=404, what=report_id)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for obj in members:
        groups[obj["type"]].append({"id": obj["id"], "title": title_of(obj), "tlp": tlp_label(obj)})
    for items in groups.values():
        items.sort(key=lambda item: item["title"].lower())
    correlations = correlate_service.report_members_correlations(conn, principal, report["id"], refs, members)
    return page(
        request,
        "report.html",
        principal,
        report=report,
        title=title_of(report),
        tlp=tlp_label(report),
        groups=sorted(groups.items()),
        correlated=correlations["correlated_objects"],
    )


@router.get("/reports/{report_id}/bundle.json")
def report_bundle(
    report_id: str, principal: Principal = Depends(web_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """The report and its readable objects as one STIX bundle."""
    report, _refs, members = _report_and_members(conn, principal, report_id)
    objects = [report, *members]
    for obj in objects:
        obj.pop("seq", None)
    bundle = {"type": "bundle", "id": "bundle--" + report_id.split("--", 1)[-1], "objects": objects}
    name = report_id.replace('"', "")
    return Response(
        orjson.dumps(bundle, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}.bundle.json"'},
    )
