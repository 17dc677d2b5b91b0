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
from typing import Any

import orjson

from accord.core import helpers
from accord.core.settings import get_settings
from accord.correlate.warninglists import active_matcher, active_names, get_matcher
from accord.store.prepare import Prepared, Refused, pack, prepare_all, unpack

log = logging.getLogger("accord.taxii")

MIN_OBJECTS = 400  # below this, shipping objects to another process costs more than it saves
TASK = "accord.taxii.parallel:prepare_frame"


def prepare_frame(request: bytes) -> bytes:
    """Helper side: [max_bytes, index, active warninglists, objects] in JSON -> the prepared objects, packed."""
    max_bytes, index, names, objects = orjson.loads(request)
    wl = get_matcher(None if names is None else tuple(names)) if index else None
    return pack(prepare_all(objects, max_bytes, index=index, wl=wl))


def warm() -> None:
    """Helper warm-up: the active warninglists, which flag values as envelopes are prepared."""
    active_matcher()


helpers.register_warmup("accord.taxii.parallel:warm")


# The share of a large envelope prepared in this process. It is written while the helper prepares the rest, so
# this process's part (preparing it, writing it, sending the rest and unpickling what comes back) should end
# about when the helper's does.
HEAD_SHARE = 0.4


def prepare_objects(objects: list[Any], *, parallel: bool = True) -> list[Prepared | Refused]:
    """Every object of an envelope prepared for the store, in order (in part by a helper when large enough)."""
    return [item for batch in prepare_batches(objects, parallel=parallel) for item in batch]


def prepare_batches(objects: list[Any], *, parallel: bool = True) -> Iterator[list[Prepared | Refused]]:
    """An envelope's objects prepared for the store, in order, as batches to write one after the other.

    For a large envelope the first batch is prepared here while a helper prepares the rest, and the caller
    writes it (accord.store.service.ingest_batches) before asking for the rest, so writing overlaps too.
    """
    settings = get_settings()
    max_bytes, index = settings.max_object_bytes, settings.value_index
    wl = active_matcher() if index else None
    if not parallel or len(objects) < MIN_OBJECTS:
        yield prepare_all(objects, max_bytes, index=index, wl=wl)
        return
    split = int(len(objects) * HEAD_SHARE)
    try:
        request = orjson.dumps([max_bytes, index, active_names(), objects[split:]])
    except (TypeError, orjson.JSONEncodeError):
        yield prepare_all(objects, max_bytes, index=index, wl=wl)
        return
    pending = helpers.submit(TASK, request)
    if pending is None:
        yield prepare_all(objects, max_bytes, index=index, wl=wl)
        return
    try:
        yield prepare_all(objects[:split], max_bytes, index=index, wl=wl)
        try:
            tail = unpack(pending.result())
        except (helpers.HelperError, pickle.UnpicklingError):
            log.exception("a helper process failed; preparing its share here")
            tail = prepare_all(objects[split:], max_bytes, index=index, wl=wl)
        yield tail
    finally:
        pending.abandon()  # the caller stopped early (or nothing: an answer already read is not abandoned)


def prepare_in_batches(objects: list[Any]) -> Iterator[list[Prepared | Refused]]:
    """prepare_batches over import_batch_size slices, so a huge envelope is never held prepared all at once."""
    size = get_settings().import_batch_size
    for start in range(0, len(objects), size):
        yield from prepare_batches(objects[start : start + size])
