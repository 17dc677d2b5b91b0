"""Bulk import across cores: worker processes parse and prepare batches while the caller writes.

Each worker parses the bundle once (orjson) and prepares the batches it is given; batches come back in
order, so versioning decisions are the same as in a single-process import.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from accord.correlate.warninglists import active_matcher
from accord.store.prepare import Prepared, Refused, pack, prepare_all, unpack
from accord.store.sources import Source, read_objects

MIN_BYTES = 4 * 1024 * 1024  # below this, process start-up costs more than it saves
MAX_BYTES = 128 * 1024 * 1024  # each worker holds the parsed bundle in memory

_objects: list[Any] = []


def _load(path: str) -> None:
    global _objects
    name = Path(path).name
    _objects = list(read_objects(Source(name, Path(path), os.path.getsize(path))))


def _count() -> int:
    return len(_objects)


def _prepare_slice(args: tuple[int, int, int, bool]) -> bytes:
    start, stop, max_bytes, index = args
    # One bytes object: the pool's result thread then only passes bytes along, and the unpickling happens
    # in the consumer's thread instead of competing for the GIL with its database writes.
    wl = active_matcher() if index else None  # loaded before the fork: shared, not rebuilt
    return pack(prepare_all(_objects[start:stop], max_bytes, index=index, wl=wl))


def worth_it(source: Source) -> bool:
    """Whether this input is a file big enough (and small enough) for a parallel import."""
    return (
        source.path is not None
        and source.size is not None
        and MIN_BYTES <= source.size <= MAX_BYTES
        and (os.cpu_count() or 1) > 1
    )


def prepared_batches(
    source: Source, *, batch: int, max_bytes: int, index: bool = True, workers: int = 2
) -> Iterator[Prepared | Refused]:
    """Prepared objects of a bundle file, in input order, computed by worker processes."""
    assert source.path is not None
    if index:
        active_matcher()  # workers inherit it
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_load, initargs=(str(source.path),)
    ) as pool:
        total = pool.submit(_count).result()
        slices = [(i, min(i + batch, total), max_bytes, index) for i in range(0, total, batch)]
        for blob in pool.map(_prepare_slice, slices):
            yield from unpack(blob)
