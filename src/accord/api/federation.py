"""REST routes of federation (admins): peers, their subscriptions and status, and running them now."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.api.deps import WRITE_CONN, admin_principal, admin_writer, read_conn
from accord.api.schemas import Body
from accord.core.db import get_engine
from accord.federation import service
from accord.federation.service import MAX_EVERY_SECONDS, MIN_EVERY_SECONDS
from accord.sharing.policy import Principal

router = APIRouter(prefix="/api/v1", tags=["federation"])


class PeerCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(description="its TAXII 2.1 API root (or discovery) URL")
    org: str = Field(description="the local organisation the link belongs to (R4)")
    token: str | None = Field(default=None, description="bearer token it is reached with; stored encrypted")
    username: str | None = Field(default=None, description="HTTP Basic user; the token is then its password")
    allow_private: bool = False
    public_key: str | None = Field(default=None, description="its `accord node key`; then it must sign")
    remote_org: str | None = Field(default=None, description="the record of its organisation here")
    timeout_seconds: float = Field(default=120.0, gt=0, le=3600)


class PeerEdit(Body):
    url: str | None = None
    token: str | None = None
    username: str | None = None
    public_key: str | None = Field(default=None, description="'' stops requiring a signature")
    allow_private: bool | None = None
    enabled: bool | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)


class SubscriptionCreate(Body):
    direction: Literal["pull", "push"]
    remote_collection: str = Field(min_length=1, max_length=200, description="the remote collection id")
    collection: str = Field(description="the local collection alias")
    live: bool = Field(default=False, description="pull: follow an Accord peer's live stream")
    every_seconds: int | None = Field(default=None, ge=MIN_EVERY_SECONDS, le=MAX_EVERY_SECONDS)


class SubscriptionRead(BaseModel):
    id: int
    direction: str
    remote_collection: str
    collection: str
    live: bool
    enabled: bool
    every_seconds: int | None
    last_run_us: int | None
    last_ok_us: int | None
    last_error: str | None
    failures: int
    next_run_us: int | None
    received: int
    stored: int
    duplicates: int
    refused: int
    removed: int
    sent: int


class PeerRead(BaseModel):
    name: str
    url: str
    org: str
    remote_org: str | None
    signed: bool = Field(description="its responses must carry a valid signature")
    allow_private: bool
    enabled: bool
    timeout_seconds: float
    subscriptions: list[SubscriptionRead] = []


class SyncRead(BaseModel):
    peer: str
    direction: str
    remote_collection: str
    collection: str
    status: str
    received: int
    stored: int
    duplicates: int
    refused: int
    removed: int
    sent: int
    error: str | None
    reasons: list[str]


def _sub(s: Any) -> SubscriptionRead:
    fields = {k: getattr(s, k) for k in SubscriptionRead.model_fields if k != "collection"}
    return SubscriptionRead(collection=s.collection_alias, **fields)


def _peer(p: Any, subs: list[Any]) -> PeerRead:
    return PeerRead(
        name=p.name,
        url=p.url,
        org=p.org_name,
        remote_org=p.remote_org_name,
        signed=bool(p.public_key),
        allow_private=p.allow_private,
        enabled=p.enabled,
        timeout_seconds=p.timeout_seconds,
        subscriptions=[_sub(s) for s in subs if s.peer_id == p.id],
    )


@router.get("/peers", response_model=list[PeerRead])
def list_peers(_: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """Every peer with its subscriptions and their health (never its token)."""
    subs = service.subscriptions(conn)
    return [_peer(p, subs) for p in service.list_peers(conn)]


@router.post("/peers", response_model=PeerRead, status_code=201)
def add_peer(body: PeerCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Register a peer; its token is stored encrypted and never returned."""
    row = service.add_peer(conn, service.PeerSpec(**body.model_dump()), actor=p.email)
    return _peer(row, [])


@router.get("/peers/{name}", response_model=PeerRead)
def get_peer(name: str, _: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """One peer, its subscriptions and their health."""
    row = service.get_peer_or_raise(conn, name)
    return _peer(row, service.subscriptions(conn, name))


@router.patch("/peers/{name}", response_model=PeerRead)
def edit_peer(name: str, body: PeerEdit, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Change a peer's settings (a token given here replaces the stored one)."""
    row = service.edit_peer(conn, name, actor=p.email, **body.model_dump(exclude_unset=True))
    return _peer(row, service.subscriptions(conn, name))


@router.delete("/peers/{name}", status_code=204)
def remove_peer(name: str, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Response:
    """Stop talking to a peer; what it brought stays, with its provenance."""
    service.remove_peer(conn, name, actor=p.email)
    return Response(status_code=204)


@router.post("/peers/{name}/subscriptions", response_model=SubscriptionRead, status_code=201)
def subscribe(
    name: str, body: SubscriptionCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN
) -> Any:
    """Add (or change) a pull or push subscription."""
    sub = service.subscribe(
        conn,
        name,
        body.direction,
        remote_collection=body.remote_collection,
        collection=body.collection,
        live=body.live,
        every_seconds=body.every_seconds,
        actor=p.email,
    )
    return _sub(sub)


@router.post("/peers/{name}/sync", response_model=list[SyncRead])
async def sync_peer(
    name: str,
    reconcile: bool = Query(False, description="also remove what the remote collections no longer hold"),
    _: Principal = Depends(admin_writer),
) -> Any:
    """Run the peer's subscriptions now; each run's outcome (a failure is a result, not an error)."""
    from accord.worker.sync import run_now

    def run() -> list[Any]:
        return run_now(get_engine(), [name], reconcile_removed=reconcile)

    return [SyncRead(**{k: getattr(r, k) for k in SyncRead.model_fields}) for r in await run_in_threadpool(run)]


def register(app: FastAPI) -> None:
    """Mount the federation routes."""
    app.include_router(router)
