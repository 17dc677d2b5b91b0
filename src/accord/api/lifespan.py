"""Background services that live as long as the server: started with it, stopped after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

Stop = Callable[[], None]


def run_during_lifespan(app: FastAPI, start: Callable[[], Stop | None]) -> None:
    """Call `start` when the server starts; the function it returns (if any) runs, off the event loop, at shutdown.

    Services nest: each one wraps the lifespan installed before it.
    """
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        stop = start()
        try:
            async with inner(application) as state:
                yield state
        finally:
            if stop is not None:
                await run_in_threadpool(stop)

    app.router.lifespan_context = lifespan
