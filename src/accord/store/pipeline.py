"""Envelope preparation across cores: a helper process prepares part of a large envelope while this one does the rest.

Preparing (validation, canonical bytes, digest, value-index rows) is pure Python and most of what a POST costs.
A large envelope is split: the tail goes to an idle helper process (accord.core.helpers) as JSON, this process
prepares the head meanwhile, and the prepared tail comes back in order, so versioning decisions are exactly
those of a sequential ingest. Any helper failure falls back to preparing in this process.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection

from accord.core import helpers
from accord.core.db import is_postgres
from accord.core.settings import get_settings
from accord.correlate.warninglists import active_matcher, active_names, get_matcher
from accord.store.prepare import Prepared, Refused, holds_nul, pack, prepare_all, prepare_rows, unpack

log = logging.getLogger("accord.store")

MIN_OBJECTS = 400  # below this, shipping objects to another process costs more than it saves
TASK = "store.prepare"  # in the helpers' registry (accord.worker.helpers)


def prepare_frame(request: bytes) -> Iterator[bytes]:
    """Helper side: [max_bytes, index, active warninglists, parts, objects] in JSON -> the prepared objects,
    packed, in `parts` consecutive answers (each sent as soon as it is ready)."""
    max_bytes, index, names, parts, objects = orjson.loads(request)
    wl = get_matcher(None if names is None else tuple(names)) if index else None
    nul_free = not holds_nul(request)  # one search of the request instead of one per object
    for chunk in _parts(objects, parts):
        yield pack(prepare_rows(chunk, max_bytes, index=index, wl=wl, nul_free=nul_free))


def _parts(items: list[Any], parts: int) -> list[list[Any]]:
    """`items` in `parts` consecutive slices of (nearly) equal size."""
    bounds = [len(items) * k // parts for k in range(parts + 1)]
    return [items[bounds[k] : bounds[k + 1]] for k in range(parts)]


def warm() -> None:
    """Helper warm-up: the active warninglists, which flag values as envelopes are prepared."""
    active_matcher()


class Pipeline(NamedTuple):
    """How a large envelope is split: a head prepared here, the rest by a helper in parts.

    The caller writes the head while the helper prepares the rest, then each part as it comes back while the
    helper prepares the next. This process's share (preparing the head, writing it, sending the rest) should
    take about as long as the helper takes for its first part.
    """

    head_share: float
    tail_parts: int


# SQLite writes in this process, and the rest in two parts. With a quarter here, the writer still waited for
# the helper's parts; with 35% it waits less (bench/bench_taxii.py, paired runs). PostgreSQL writes in its own
# server process: this one has time to prepare half itself, and every extra batch costs round trips.
IN_PROCESS = Pipeline(0.35, 2)
OVER_THE_WIRE = Pipeline(0.5, 1)


def pipeline_for(conn: Connection) -> Pipeline:
    """The split that suits the database this connection writes to."""
    return OVER_THE_WIRE if is_postgres(conn) else IN_PROCESS


def prepare_objects(objects: list[Any], *, parallel: bool = True) -> list[Prepared | Refused]:
    """Every object of an envelope prepared for the store, in order (in part by a helper when large enough)."""
    return [item for batch in prepare_batches(objects, parallel=parallel) for item in batch]


def prepare_batches(
    objects: list[Any], *, parallel: bool = True, pipeline: Pipeline = IN_PROCESS
) -> Iterator[list[Prepared | Refused]]:
    """An envelope's objects prepared for the store, in order, as batches to write one after the other.

    For a large envelope the first batch is prepared here while a helper prepares the rest, and the caller
    writes each batch (accord.store.service.ingest_batches) before asking for the next, so writing overlaps
    with the helper's work. If the helper fails, what it has not answered is prepared here.
    """
    settings = get_settings()
    max_bytes, index = settings.max_object_bytes, settings.value_index
    wl = active_matcher() if index else None

    def here(items: list[Any]) -> list[Prepared | Refused]:
        return prepare_all(items, max_bytes, index=index, wl=wl)

    pending = None
    split = int(len(objects) * pipeline.head_share)
    if parallel and len(objects) >= MIN_OBJECTS:
        try:
            request = orjson.dumps([max_bytes, index, active_names(), pipeline.tail_parts, objects[split:]])
        except (TypeError, orjson.JSONEncodeError):
            pass  # not shippable as JSON: prepared here
        else:
            pending = helpers.submit(TASK, request)
    if pending is None:
        yield here(objects)
        return
    try:
        yield here(objects[:split])
        done = split
        try:
            for blob in pending.results():
                part = unpack(blob)
                done += len(part)
                yield part
        except (helpers.HelperError, pickle.UnpicklingError):
            log.exception("a helper process failed; preparing the rest of its share here")
            yield here(objects[done:])
    finally:
        pending.abandon()  # the caller stopped early (or nothing: answers already read are not abandoned)


def prepare_in_batches(objects: list[Any], pipeline: Pipeline = IN_PROCESS) -> Iterator[list[Prepared | Refused]]:
    """prepare_batches over import_batch_size slices, so a huge envelope is never held prepared all at once."""
    size = get_settings().import_batch_size
    for start in range(0, len(objects), size):
        yield from prepare_batches(objects[start : start + size], pipeline=pipeline)
