"""REST routes of feeds (admins): configure, change, remove, list and pull them now; passwords are never returned."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from accord.api.deps import WRITE_CONN, admin_principal, admin_writer, read_conn
from accord.api.schemas import Body
from accord.core.clock import now_us
from accord.core.db import get_engine
from accord.feeds import service
from accord.feeds.service import MAX_EVERY_MINUTES, MAX_FEED_BYTES
from accord.sharing.policy import Principal

router = APIRouter(prefix="/api/v1", tags=["feeds"])


class FeedCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(description="http(s) URL (MISP: the feed folder or its manifest.json; TAXII: the API root)")
    format: str = Field(description="misp | csv | text | stix | taxii")
    collection: str | None = Field(default=None, description="collection alias to publish into")
    org: str | None = Field(default=None, description="the local organisation it belongs to (default: the host's)")
    item_type: str | None = Field(default=None, description="text/csv value type (default: detect per line)")
    csv_columns: str | None = Field(default=None, description="e.g. 'value=2,type=1,comment=3' (1-based)")
    delimiter: str = ","
    skip_header: bool = False
    tlp: str | None = Field(default=None, description="default TLP for content without its own marking")
    every_minutes: int | None = Field(
        default=None, ge=1, le=MAX_EVERY_MINUTES, description="pulled by the worker this often"
    )
    taxii_collection: str | None = Field(default=None, description="remote TAXII collection id")
    username: str | None = Field(default=None, description="HTTP Basic user")
    password: str | None = Field(default=None, description="HTTP Basic password; stored encrypted, never returned")
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)
    max_bytes: int = Field(default=104_857_600, ge=1, le=MAX_FEED_BYTES)


class FeedUpdate(Body):
    """Only the fields given change; null (or '') clears an optional setting, every_minutes null: on demand only."""

    url: str | None = None
    format: str | None = None
    collection: str | None = None
    item_type: str | None = None
    csv_columns: str | None = None
    delimiter: str | None = None
    skip_header: bool | None = None
    tlp: str | None = None
    every_minutes: int | None = Field(default=None, ge=0, le=MAX_EVERY_MINUTES)
    taxii_collection: str | None = None
    username: str | None = None
    password: str | None = Field(default=None, description="replaces the stored one; never returned")
    timeout_seconds: float | None = Field(default=None, gt=0, le=600)
    max_bytes: int | None = Field(default=None, ge=1, le=MAX_FEED_BYTES)
    enabled: bool | None = None


class FeedRead(BaseModel):
    name: str
    url: str
    format: str
    collection: str | None
    org: str
    link: str
    source: str
    item_type: str | None
    csv_columns: str | None
    delimiter: str
    skip_header: bool
    tlp: str | None
    every_minutes: int | None
    taxii_collection: str | None
    username: str | None
    has_password: bool
    timeout_seconds: float
    max_bytes: int
    enabled: bool
    last_pull_us: int | None
    last_status: str | None
    last_error: str | None
    last_stored: int | None
    last_duplicates: int | None
    last_refused: int | None
    pulls: int
    stored_total: int
    next_due_us: int | None = Field(description="when the worker pulls it next; null: disabled or on demand only")


class PullRead(BaseModel):
    feed: str
    status: str = Field(description="ok | not-modified | error")
    http_status: int | None
    fetched_bytes: int
    stored: int
    duplicates: int
    refused: int
    skipped: int
    error: str | None
    reasons: list[str]


SETTINGS = ("url", "format", "item_type", "csv_columns", "delimiter", "skip_header", "tlp", "every_minutes")
MORE = ("taxii_collection", "username", "timeout_seconds", "max_bytes", "enabled", "last_status", "last_error")


def _feed(r: Any) -> FeedRead:
    return FeedRead(
        name=r.name,
        collection=r.collection_alias,
        org=r.org_name,
        link=r.link_name,
        source=r.source_name,
        has_password=r.password is not None,
        last_pull_us=r.pulled_us,
        last_stored=r.stored,
        last_duplicates=r.duplicates,
        last_refused=r.refused,
        pulls=r.pulls,
        stored_total=r.stored_total,
        next_due_us=service.next_due_us(r, now_us()),
        **{k: getattr(r, k) for k in SETTINGS + MORE},
    )


def _described(conn: Connection, name: str) -> FeedRead:
    return _feed(service.describe_feed(conn, name)[0])


@router.get("/feeds", response_model=list[FeedRead])
def list_feeds(_: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """Every feed with its last pull and when it is next due (never its password)."""
    return [_feed(r) for r in service.list_feeds(conn)]


@router.post("/feeds", response_model=FeedRead, status_code=201)
def add_feed(body: FeedCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Configure a feed; its password is stored encrypted and never returned."""
    row = service.add_feed(conn, service.FeedSpec(**body.model_dump()), actor=p.email)
    return _described(conn, row.name)


@router.get("/feeds/{name}", response_model=FeedRead)
def get_feed(name: str, _: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """One feed, its last pull and when it is next due."""
    return _described(conn, name)


@router.patch("/feeds/{name}", response_model=FeedRead)
def edit_feed(name: str, body: FeedUpdate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Change a feed's settings; a new URL or format starts its pull state afresh, enabling makes it due at once."""
    service.edit_feed(conn, name, actor=p.email, **body.model_dump(exclude_unset=True))
    return _described(conn, name)


@router.delete("/feeds/{name}", status_code=204)
def remove_feed(name: str, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Response:
    """Remove a feed and its pull history; what it brought stays, with its provenance."""
    service.remove_feed(conn, name, actor=p.email)
    return Response(status_code=204)


@router.post("/feeds/{name}/pull", response_model=PullRead)
async def pull_feed(name: str, p: Principal = Depends(admin_writer)) -> Any:
    """Pull the feed now (disabled or not); the outcome (a failed pull is a result, not an error)."""
    from accord.feeds.pull import pull_feed as pull

    result = await run_in_threadpool(pull, get_engine(), name, actor=p.email)
    return PullRead(**{k: getattr(result, k) for k in PullRead.model_fields})


def register(app: FastAPI) -> None:
    """Mount the feed routes."""
    app.include_router(router)
