"""The object page: properties, TLP, owner and provenance, versions with diffs, graph, correlations, sightings."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.accounts.service import list_collections
from accord.api.deps import read_conn
from accord.core.db import get_engine, transaction
from accord.core.errors import Forbidden, NotFound
from accord.correlate import repository as correlate_repo
from accord.correlate import service as correlate_service
from accord.sharing.policy import Principal
from accord.sightings.service import record_sighting
from accord.store import queries
from accord.web.render import page
from accord.web.session import check_csrf, web_principal
from accord.web.views import pretty, property_rows, title_of, tlp_label, version_diffs

router = APIRouter(include_in_schema=False)
GRAPH_LIMIT = 200  # neighbours drawn per expansion; more are counted, not drawn


@router.get("/objects/{stix_id}")
def object_page(
    request: Request,
    stix_id: str,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """One object as its reader may see it; the same 'not found' page whether it is missing or unreadable."""
    obj = queries.get_latest(conn, principal, stix_id)
    if obj is None:
        return page(request, "notfound.html", principal, status=404, what=stix_id)
    correlations = correlate_service.object_correlations(conn, principal, stix_id)
    links = correlate_repo.links(conn, principal, [stix_id])
    sightings = [lk for lk in links if lk.kind == "ref:sighting"]
    reports = [lk for lk in links if lk.kind == "ref:report"]
    writable = [c for c in list_collections(conn) if c.id in principal.writable_collections]
    owner_ref = obj.get("created_by_ref")
    identity = (
        correlate_repo.latest_objects(conn, principal, [owner_ref], ["identity"]) if isinstance(owner_ref, str) else []
    )
    return page(
        request,
        "object.html",
        principal,
        obj=obj,
        title=title_of(obj),
        tlp=tlp_label(obj),
        owner=str(orjson.loads(identity[0].raw).get("name") or "") if identity else "",
        rows=property_rows({k: v for k, v in obj.items() if k != "seq"}),
        versions=version_diffs(queries.version_bodies(conn, principal, stix_id)),
        correlations=correlations,
        sightings=[{"id": s.id, "seen": s.seen, "count": s.times} for s in sightings],
        reports=[{"id": r.id, "title": title_of(orjson.loads(r.raw)) if r.raw else r.id} for r in reports],
        raw=pretty(obj),
        writable=writable,
        can_write=principal.can_write,
    )


@router.get("/objects/{stix_id}/stix.json")
def object_download(
    stix_id: str, principal: Principal = Depends(web_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """The object's newest readable version as a STIX JSON file."""
    obj = queries.get_latest(conn, principal, stix_id)
    if obj is None:
        raise NotFound(f"no object {stix_id}")
    obj.pop("seq", None)
    name = stix_id.replace('"', "")
    return Response(
        orjson.dumps(obj, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}.json"'},
    )


@router.get("/objects/{stix_id}/graph.json")
def object_graph(
    stix_id: str, principal: Principal = Depends(web_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """The object and its readable relationships' readable other ends (cytoscape elements)."""
    root = correlate_repo.latest_readable(conn, principal, stix_id)
    if root is None:
        raise NotFound(f"no object {stix_id}")
    rels = [lk for lk in correlate_repo.links(conn, principal, [stix_id]) if lk.kind == "ref:relationship"]
    shown, more = rels[:GRAPH_LIMIT], max(0, len(rels) - GRAPH_LIMIT)
    others = {r.other for r in shown if r.other}
    found = {
        r.id: r for r in correlate_repo.latest_objects(conn, principal, [stix_id, *others, *(r.id for r in shown)])
    }
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for oid in [stix_id, *sorted(others)]:
        row = found.get(oid)
        if row is not None:
            obj = orjson.loads(row.raw)
            nodes.append({"data": {"id": oid, "label": title_of(obj)[:40], "type": row.type}})
    drawn = {n["data"]["id"] for n in nodes}
    for rel in shown:
        body = found.get(rel.id)
        if body is None or rel.other not in drawn:
            continue  # an end the reader may not read is not drawn (R7)
        obj = orjson.loads(body.raw)
        source, target = obj.get("source_ref"), obj.get("target_ref")
        if source in drawn and target in drawn:
            edges.append(
                {"data": {"id": rel.id, "source": source, "target": target, "label": obj.get("relationship_type", "")}}
            )
    return Response(orjson.dumps({"nodes": nodes, "edges": edges, "more": more}), media_type="application/json")


@router.post("/objects/{stix_id}/sightings")
async def add_sighting(request: Request, stix_id: str, principal: Principal = Depends(web_principal)) -> Response:
    """Record that your organisation saw this object now (one click)."""
    form = await check_csrf(request)
    if not principal.can_write:
        raise Forbidden("this account cannot write")

    def write() -> None:
        with transaction(get_engine()) as conn:
            record_sighting(conn, principal, collection=form.get("collection", ""), object_id=stix_id, count=1)

    await run_in_threadpool(write)
    return RedirectResponse(f"/objects/{stix_id}?sighted=1#sightings", status_code=303)
