"""REST search: free text over names and descriptions and filters, keyset-paged (the console's search page too)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import Connection

from accord.api.deps import current_principal, read_conn
from accord.search.service import MAX_LIMIT, SearchQuery, parse_time, parse_tlp, search
from accord.sharing.policy import Principal

router = APIRouter(prefix="/api/v1", tags=["objects"])

CURSOR_HELP = "the `next` of the previous page (valid for the same caller and query)"


@router.get("/search")
def search_objects(
    q: str = Query("", description="words that must all occur in the name or description; `word*` is a prefix"),
    type: list[str] | None = Query(None, description="object types (any of them)"),
    tlp: list[str] | None = Query(None, description="TLP levels (any of them): clear, green, amber, ..., unmarked"),
    collection: str | None = Query(None, description="alias of a collection the object is in"),
    owner: str | None = Query(None, description="name of the organisation that owns the object"),
    since: str | None = Query(None, description="modified at or after (YYYY-MM-DD or ISO 8601)"),
    until: str | None = Query(None, description="modified at or before (YYYY-MM-DD: that whole day)"),
    warninglisted: bool | None = Query(None, description="true: only objects with a value on an active warninglist"),
    before: str | None = Query(None, description=CURSOR_HELP),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """The newest readable version of each matching object, newest first; `next` (while there is more) pages on.

    Each request reads a bounded part of the index: a page may hold fewer than `limit` objects, even none, and
    still have a `next`; only a page without `next` is the last."""
    query = SearchQuery(
        text=q,
        types=tuple(sorted(set(type or ()))),
        tlps=tuple(dict.fromkeys(parse_tlp(t) for t in tlp or ())),
        collection=collection or None,
        owner=owner or None,
        since=parse_time(since, param="since", end=False) if since else None,
        until=parse_time(until, param="until", end=True) if until else None,
        warninglisted=warninglisted,
    )
    page = search(conn, principal, query, before=before, limit=limit)
    body = b'{"objects":[' + b",".join(raw for _, raw in page.rows) + b"]"
    if page.next is not None:
        body += b',"next":' + orjson.dumps(page.next)
    return Response(body + b"}", media_type="application/json")
