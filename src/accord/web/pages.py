"""Home and search pages: the newest readable objects, value lookups and filtered, keyset-paged lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.accounts import repository as accounts_repo
from accord.api.deps import read_conn
from accord.core.db import get_engine, read_transaction
from accord.core.errors import BadRequest
from accord.correlate import lookup as lookup_service
from accord.correlate import repository as correlate_repo
from accord.search import service as search_service
from accord.search.service import SearchQuery, parse_time
from accord.sharing.policy import Principal
from accord.stix.markings import Tlp
from accord.store import queries
from accord.web import dashboard
from accord.web.render import page
from accord.web.session import session_principal, web_principal
from accord.web.views import title_of, tlp_label

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_SEARCH_VALUES = 1_000
TLP_CHOICES = {"clear": 0, "green": 1, "amber": 2, "amber+strict": 3, "red": 4, "unmarked": None}
TYPE_CHOICES = (
    "indicator",
    "malware",
    "threat-actor",
    "intrusion-set",
    "campaign",
    "attack-pattern",
    "report",
    "relationship",
    "sighting",
    "vulnerability",
    "identity",
    "domain-name",
    "ipv4-addr",
    "url",
    "file",
)
WARNINGLISTED = {"": None, "yes": True, "no": False}
SPLIT = re.compile(r"[\s,;]+")


def _rows(raws: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
    out = []
    for _, raw in raws:
        obj = orjson.loads(raw)
        out.append(
            {
                "id": obj.get("id", ""),
                "type": obj.get("type", ""),
                "title": title_of(obj),
                "tlp": tlp_label(obj),
                "modified": obj.get("modified") or obj.get("created") or "",
            }
        )
    return out


@router.get("/", response_model=None)
async def home(request: Request) -> Response:
    """The dashboard; the sign-in page when signed out."""
    principal = await session_principal(request)
    if principal is None:
        return page(request, "signin.html", None, next="/", error=None, email="")
    return await run_in_threadpool(_dashboard, request, principal)


def _dashboard(request: Request, principal: Principal) -> HTMLResponse:
    with read_transaction(get_engine()) as conn:
        recent = queries.list_latest(conn, principal, limit=dashboard.CANDIDATES)
        return page(
            request,
            "home.html",
            principal,
            latest=_rows(recent[:15]),
            **dashboard.figures(conn, principal, [raw for _, raw in recent]),
        )


@router.get("/search")
def search(
    request: Request,
    q: str = "",
    text: str = "",
    type: str = "",
    tlp: str = "",
    collection: str = "",
    owner: str = "",
    since: str = "",
    until: str = "",
    warninglisted: str = "",
    before: str | None = None,
    principal: Principal = Depends(web_principal),
    conn: Connection = Depends(read_conn),
) -> HTMLResponse:
    """Values (raw or defanged, many at once) through the lookup; otherwise the search service: free text over
    names and descriptions and filters, keyset-paged."""
    values = [v for v in SPLIT.split(q.strip()) if v][:MAX_SEARCH_VALUES] if q.strip() else []
    types = [type] if type in TYPE_CHOICES else None
    tlps = [TLP_CHOICES[tlp]] if tlp in TLP_CHOICES else None
    form = {
        "q": q,
        "text": text,
        "type": type if types else "",
        "tlp": tlp if tlps else "",
        "collection": collection,
        "owner": owner,
        "since": since,
        "until": until,
        "warninglisted": warninglisted if warninglisted in WARNINGLISTED else "",
    }
    context: dict[str, Any] = {
        **form,
        "types": TYPE_CHOICES,
        "tlps": list(TLP_CHOICES),
        "collections": [
            c.alias
            for c in accounts_repo.list_collections(conn)
            if principal.is_admin or c.id in principal.readable_collections
        ],
        "results": None,
        "lookup": None,
        "next": None,
        "partial": False,
        "error": None,
    }
    if values:
        context["lookup"] = _lookup_rows(conn, principal, lookup_service.lookup(conn, principal, values), types, tlps)
        return page(request, "search.html", principal, **context)
    try:
        query = SearchQuery(
            text=text,
            types=tuple(types or ()),
            tlps=tuple(tlps or ()),
            collection=collection or None,
            owner=owner.strip() or None,
            since=parse_time(since, param="Modified since", end=False) if since.strip() else None,
            until=parse_time(until, param="Modified until", end=True) if until.strip() else None,
            warninglisted=WARNINGLISTED.get(warninglisted),
        )
        found = search_service.search(conn, principal, query, before=before, limit=PAGE_SIZE)
    except BadRequest as exc:
        context["error"] = exc.message
        return page(request, "search.html", principal, status=400, **context)
    context["results"] = _rows(found.rows)
    context["partial"] = found.next is not None and len(found.rows) < PAGE_SIZE
    if found.next is not None:
        context["next"] = "/search?" + urlencode(
            {**{k: v for k, v in form.items() if k != "q" and v}, "before": found.next}
        )
    return page(request, "search.html", principal, **context)


def _lookup_rows(
    conn: Connection,
    principal: Principal,
    answers: list[dict[str, Any]],
    types: list[str] | None,
    tlps: list[int | None] | None,
) -> list[dict[str, Any]]:
    """One row per searched value: its normalised form, warninglists, and the readable objects that hold it."""
    ids = {m["id"] for a in answers for v in a.get("values", []) for m in v.get("matches", [])}
    labels = {r.id: tlp_label(orjson.loads(r.raw)) for r in correlate_repo.latest_objects(conn, principal, list(ids))}
    wanted = {"unmarked" if t is None else Tlp(t).label for t in tlps} if tlps else None
    rows = []
    for answer in answers:
        for value in answer.get("values", []):
            matches = [
                m | {"tlp": labels.get(m["id"], "unmarked")}
                for m in value.get("matches", [])
                if (types is None or m.get("type") in types)
                and (wanted is None or labels.get(m["id"], "unmarked") in wanted)
            ]
            rows.append(
                {
                    "input": answer.get("input", ""),
                    "kind": value.get("kind", ""),
                    "value": value.get("value", ""),
                    "warninglists": value.get("warninglists") or [],
                    "widespread": value.get("widespread"),
                    "count": value.get("count"),
                    "count_capped": value.get("count_capped"),
                    "matches": matches,
                }
            )
    return rows
