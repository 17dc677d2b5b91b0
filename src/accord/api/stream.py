"""GET /api/v1/stream: a collection's new readable versions and visible removals as server-sent events."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from accord.api.deps import current_principal
from accord.core.keys import sign_body
from accord.core.settings import get_settings
from accord.remote.sse import signed_part
from accord.sharing.policy import Principal
from accord.stream.service import Event, Tail, open_tail

router = APIRouter(prefix="/api/v1")
MEDIA = "text/event-stream"
# Set when the server shuts down: open streams end at their next poll instead of holding the shutdown up.
_stopping = threading.Event()

STREAM_DESCRIPTION = """Server-sent events (`text/event-stream`) of one collection the caller may read, in the order
they committed: `event: object` (data: the STIX object, one line of JSON) for each new version added that the
caller may read, and `event: removed` (data: `{"id", "version", "collection"}`; `version` absent for objects
without one) for each removal from the collection of a version the caller could read through that membership.
Every event's `id` is an opaque cursor: pass it back as the `Last-Event-ID` header (or `last_event_id`) to
continue strictly after it. Without one the stream starts now (only new events), or with `from=start` at the
beginning; `events=removed` sends removals only. A comment `: keep-alive` with a refreshed `id` is sent when the
stream is quiet, and one with the final `id` when `wait` ends it. Each event carries `sig:`, the node's Ed25519
signature of its type, a line feed and its data (accord.core.keys). Nothing the caller
may not read appears, not even as a gap: ids are opaque and bound to the caller and the collection (400
otherwise; 404 for a collection the caller cannot read). The caller's grants are those at connect time."""


def _frame(event: Event, sign: bool) -> bytes:
    head = b"id: " + event.id.encode() + b"\nevent: " + event.event.encode() + b"\n"
    if sign:  # between Accord nodes every event is signed, as every TAXII body is (accord.core.keys)
        head += b"sig: " + sign_body(signed_part(event.event, event.data)).encode() + b"\n"
    return head + b"data: " + event.data + b"\n\n"


async def _events(request: Request, tail: Tail, wait: float | None) -> AsyncIterator[bytes]:
    settings = get_settings()
    sign = settings.sign_responses
    deadline = None if wait is None else time.monotonic() + wait
    quiet_since = time.monotonic()
    yield b"retry: 1000\n\n"
    while not _stopping.is_set():
        events, more = await run_in_threadpool(tail.poll)
        if events:
            yield b"".join(_frame(e, sign) for e in events)
            quiet_since = time.monotonic()
        if more:
            continue  # drain a backlog before waiting
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            yield b": end\nid: " + tail.cursor().encode() + b"\n\n"  # where to resume, even after no event
            return
        if now - quiet_since >= settings.stream_keepalive_seconds:
            yield b": keep-alive\nid: " + tail.cursor().encode() + b"\n\n"
            quiet_since = now
        if await request.is_disconnected():
            return
        pause = settings.stream_poll_seconds
        await asyncio.sleep(pause if deadline is None else max(0.0, min(pause, deadline - now)))


@router.get(
    "/stream",
    tags=["stream"],
    response_class=StreamingResponse,
    description=STREAM_DESCRIPTION,
    responses={
        200: {"content": {MEDIA: {"schema": {"type": "string"}}}, "description": "the event stream"},
        400: {"description": "a Last-Event-ID that is not a valid cursor of this caller and collection"},
        404: {"description": "no collection the caller may read has this id or alias"},
    },
)
async def stream(
    request: Request,
    collection: str = Query(..., description="the collection's id (UUID) or alias"),
    start: Literal["start"] | None = Query(None, alias="from", description="`start`: from the beginning, not now"),
    last_event_id: str | None = Query(None, description="as the Last-Event-ID header, for clients without headers"),
    events: Literal["all", "removed"] = Query("all", description="`removed`: only removals (what a sync needs)"),
    wait: float | None = Query(
        None, ge=0, description="close after this many seconds (what is already there is sent first); default never"
    ),
    last_event_id_header: str | None = Header(None, alias="Last-Event-ID", include_in_schema=True),
    principal: Principal = Depends(current_principal),
) -> StreamingResponse:
    """Live additions and removals of one collection, as server-sent events."""
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    tail = await run_in_threadpool(
        open_tail, principal, collection, resume, from_start=start is not None, removals_only=events == "removed"
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(request, tail, wait), media_type=MEDIA, headers=headers)


def _end_streams_on_exit() -> Callable[[], None] | None:
    """Chain onto the server's exit signals so that open streams end when it starts shutting down.

    uvicorn lets running responses finish before it shuts down (and before the lifespan's shutdown): a stream
    never finishes by itself, so it must learn of the exit from the signal.
    """
    _stopping.clear()
    if threading.current_thread() is not threading.main_thread():
        return None  # embedded (tests, another server's thread): streams end with their clients

    def chain(sig: signal.Signals) -> None:
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None) -> None:
            _stopping.set()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)

    for sig in (signal.SIGINT, signal.SIGTERM):
        chain(sig)
    return _stopping.set


def register(app: FastAPI) -> None:
    """Mount the stream and end it with the server."""
    from accord.api.lifespan import run_during_lifespan

    app.include_router(router)
    run_during_lifespan(app, _end_streams_on_exit)
