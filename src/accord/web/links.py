"""Feeds and peers for everyone: read-only health (last run, state, lag) of the links that bring what you read.

A user sees the feeds and peer subscriptions of its own organisation and those that fill a collection its
organisation may read; node admins see every one. Error texts are shown to the link's organisation and to
admins only (a failing URL may name a partner's host or key); others see the state.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection

from accord.accounts import service as accounts
from accord.api.deps import read_conn
from accord.core.clock import now_us
from accord.federation import service as federation
from accord.feeds import service as feeds
from accord.sharing.policy import Principal
from accord.web.render import page
from accord.web.session import web_principal

router = APIRouter(include_in_schema=False)


def _concerns(principal: Principal, org_id: int, collection_id: int | None) -> tuple[bool, bool]:
    """Whether a link is shown to this user, and whether its error text is."""
    own = principal.is_admin or org_id == principal.org_id
    return own or collection_id in principal.readable_collections, own


def _lag(now: int, last_ok: int | None) -> int | None:
    """Microseconds since the last successful run (None: never)."""
    return None if last_ok is None else max(0, now - last_ok)


def health_rows(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    """One row per visible feed and peer subscription: its state, last run and lag."""
    now = now_us()
    rows: list[dict[str, Any]] = []
    for f in feeds.list_feeds(conn):
        shown, own = _concerns(principal, f.org_id, f.collection_id)
        if not shown:
            continue
        ok = f.pulled_us if f.last_status in ("ok", "not-modified") else None  # a failed pull says nothing newer
        state = "disabled" if not f.enabled else (f.last_status or "not run")
        rows.append(
            {
                "name": f.name,
                "kind": f"feed ({f.format})",
                "collection": f.collection_alias or "",
                "org": f.org_name,
                "last_run": f.pulled_us,
                "state": state,
                "failing": f.last_status == "error",
                "lag": _lag(now, ok),
                "error": (f.last_error or "") if own else ("the last pull failed" if f.last_status == "error" else ""),
            }
        )
    local_orgs = {p.id: p.local_org_id for p in federation.list_peers(conn)}
    names = {o.id: o.name for o in accounts.list_orgs(conn)}
    for s in federation.subscriptions(conn):
        org_id = local_orgs.get(s.peer_id, -1)
        shown, own = _concerns(principal, org_id, s.collection_id)
        if not shown:
            continue
        failing = bool(s.failures)
        state = "ok" if s.last_ok_us else "not run"
        if failing:
            state = f"{s.failures} failures"
        if not s.enabled:
            state = "disabled"
        rows.append(
            {
                "name": f"{s.peer_name} · {s.remote_collection}",
                "kind": f"peer {s.direction}",
                "collection": s.collection_alias,
                "org": names.get(org_id, ""),
                "last_run": s.last_run_us,
                "state": state,
                "failing": failing,
                "lag": _lag(now, s.last_ok_us),
                "error": (s.last_error or "") if own else ("the last run failed" if failing else ""),
            }
        )
    return rows


def _ago(us: int | None) -> str:
    if us is None:
        return "–"
    minutes = us // 60_000_000
    if minutes < 1:
        return "under a minute"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


@router.get("/feeds")
def feeds_page(
    request: Request, principal: Principal = Depends(web_principal), conn: Connection = Depends(read_conn)
) -> HTMLResponse:
    """Feeds and peer subscriptions that concern you, with their health; the collections you may use."""
    rows = health_rows(conn, principal)
    for row in rows:
        row["lag_text"] = _ago(row["lag"])
    collections = [
        {
            "alias": c.alias,
            "title": c.title,
            "read": principal.is_admin or c.id in principal.readable_collections,
            "write": principal.is_admin or c.id in principal.writable_collections,
        }
        for c in accounts.list_collections(conn)
    ]
    return page(
        request,
        "feeds.html",
        principal,
        links=rows,
        collections=[c for c in collections if c["read"] or c["write"]],
    )
