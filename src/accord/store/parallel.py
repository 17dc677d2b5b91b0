"""Bulk import across cores: helper processes parse and prepare spans of a bundle while the caller writes.

The helpers are a pool of the one helper mechanism (accord.core.helpers) opened for the import: forked from the
importing command, so they share the warninglists it loaded, and run at a lower priority than the writer. Each
helper is given every n-th span in one streaming task and answers span by span; a helper's answers wait in its
pipe until the writer wants them, which bounds what is held prepared ahead of the writer.

The caller cuts the bundle's `objects` array into byte spans at likely element boundaries (`},{`), and
each worker parses only the spans it is given: nothing parses the whole file, and the first objects reach
the writer after one span, not one whole-file parse.

A cut may fall inside an object (between the items of a nested list of objects, or in a string), so spans
are trusted strictly in order. The first span starts where the array's contents start. A span whose bytes
parse as a list of complete JSON values, and which starts at an element boundary, ends at one (a JSON
parser's state after those bytes is the same in the span as in the file), so the next span starts at one
too. A span that does not parse is merged with the next until the merge parses. If the tail never parses,
the file is read whole again, which gives the precise reason it is not valid JSON. Objects come out in
input order, so versioning decisions are those of a single-process import.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import logging
import mmap
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import orjson

from accord.core import helpers
from accord.correlate.warninglists import active_matcher
from accord.store.prepare import Prepared, Refused, holds_nul, pack, prepare_all, prepare_rows, unpack
from accord.store.sources import GZIP_MAGIC, Source, bundle_objects, read_objects

MIN_BYTES = 4 * 1024 * 1024  # below this, process start-up costs more than it saves
SPAN_BYTES = 1024 * 1024  # about 2,500 typical objects
FIRST_SPAN_BYTES = 256 * 1024  # the writer starts as soon as this much is prepared, not a whole span
TASK = "store.import_spans"  # in the helpers' registry (accord.worker.helpers)
HELPER_START = 10.0  # seconds to wait for a forked helper to report ready (it loads nothing: it is at once)
# Workers run at a lower priority than the writer. The writer's work is the import's critical path (every object
# passes through it, in order), but with two workers and the writer on two cores the scheduler gave each a third:
# the workers finished well before the writer, which then worked alone. At niceness 10 the writer takes a core
# whenever it has work, and the workers use what it leaves (bench/bench_import.py).
WORKER_NICENESS = 10

_OBJECTS_KEY = re.compile(rb'"objects"\s*:\s*\[')
# An element boundary of some list of objects; the first form is the likely start of a STIX object.
_LIKELY_CUT = re.compile(rb'\}\s*,\s*\{\s*"(?:type|id|spec_version|created|created_by_ref|modified|confidence)"\s*:')
_ANY_CUT = re.compile(rb"\}\s*,\s*\{")
_SENTINEL = "accord-objects-array-placeholder"

log = logging.getLogger("accord.store")

Span = tuple[int, int]  # [start, stop) byte offsets of a run of array elements


def worth_it(source: Source) -> bool:
    """Whether this input is a plain file big enough for a parallel import."""
    return (
        source.path is not None and source.size is not None and source.size >= MIN_BYTES and (os.cpu_count() or 1) > 1
    )


def objects_bounds(data: Any, name: str) -> Span | None:
    """Where the contents of a bundle's `objects` array lie, or None when the layout is not recognised.

    The rest of the file (the bundle around the array) is parsed with a placeholder array, which checks it
    is a STIX bundle (BadRequest if not) and that the bytes found are the top-level `objects` array.
    """
    found = _OBJECTS_KEY.search(data)
    close = data.rfind(b"]")
    if found is None or close < found.end():
        return None
    skeleton = data[: found.start()] + b'"objects":["' + _SENTINEL.encode() + b'"]' + data[close + 1 :]
    try:
        doc = orjson.loads(skeleton)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("objects") != [_SENTINEL]:
        return None
    bundle_objects(doc, name)
    return found.end(), close


def cut(data: Any, start: int, stop: int, size: int, first: int | None = None) -> list[Span]:
    """Consecutive spans of about `size` bytes (the first of about `first`) covering [start, stop), cut where an
    element likely ends."""
    spans: list[Span] = []
    pos = start
    want = first or size
    while stop - pos > want + want // 2:
        at = _LIKELY_CUT.search(data, pos + want, min(stop, pos + 2 * want)) or _ANY_CUT.search(data, pos + want, stop)
        if at is None:
            break
        spans.append((pos, at.start() + 1))  # through the closing brace
        pos = at.start() + at[0].index(b"{")  # from the opening brace
        want = size
    spans.append((pos, stop))
    return spans


def _read_span(path: str, span: Span) -> bytes:
    with open(path, "rb") as f:
        return os.pread(f.fileno(), span[1] - span[0], span[0])


def _parse_span(data: bytes) -> list[Any] | None:
    """The elements in a span's bytes, or None if those bytes are not a list of complete JSON values."""
    if not data.strip():
        return []
    try:
        items = orjson.loads(b"[" + data + b"]")
    except orjson.JSONDecodeError:
        return None
    return items if isinstance(items, list) else None


def _prepare_span(args: tuple[str, Span, int, bool]) -> bytes | None:
    path, span, max_bytes, index = args
    data = _read_span(path, span)
    objects = _parse_span(data)
    if objects is None:
        return None
    # One bytes object: the pool's result thread then only passes bytes along, and the unpickling happens
    # in the consumer's thread instead of competing for the GIL with its database writes.
    wl = active_matcher() if index else None  # loaded before the helpers were forked: shared, not rebuilt
    # One search of the span's bytes instead of one per object (most spans hold no NUL).
    return pack(prepare_rows(objects, max_bytes, index=index, wl=wl, nul_free=not holds_nul(data)))


def prepare_spans_frame(request: bytes) -> Iterator[bytes]:
    """Helper side: [path, spans, max_bytes, index] in JSON -> each span's prepared objects, packed, in order, each
    as soon as it is ready; b"" for a span whose bytes are not a list of complete JSON values (see the module)."""
    path, spans, max_bytes, index = orjson.loads(request)
    for start, stop in spans:
        yield _prepare_span((path, (start, stop), max_bytes, index)) or b""


def prepared_spans(
    source: Source, *, batch: int, max_bytes: int, index: bool = True, workers: int = 2
) -> Iterator[list[Prepared | Refused]]:
    """Prepared objects of a bundle file, in input order, computed by helper processes: a list at a time, each as
    soon as it is ready (a span's objects, or a batch of them when the file is read in this process)."""
    assert source.path is not None
    with _plain(source.path) as plain:
        if plain is None:  # gzip that does not decompress: the whole-file reader gives the reason
            yield from _in_process(source, 0, batch, max_bytes, index)
        else:
            yield from _spanned(source, plain, batch, max_bytes, index, workers)


@contextlib.contextmanager
def _plain(path: Path) -> Iterator[Path | None]:
    """The file itself, or for a gzip file a decompressed temporary copy (None if it does not decompress)."""
    with path.open("rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if not compressed:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="accord-import-") as tmp:
        plain = Path(tmp) / "bundle.json"
        try:
            with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        except (gzip.BadGzipFile, EOFError, OSError, zlib.error):
            yield None
            return
        yield plain


def _spanned(
    source: Source, plain: Path, batch: int, max_bytes: int, index: bool, workers: int
) -> Iterator[list[Prepared | Refused]]:
    path = str(plain)
    spans: list[Span] = []
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size:  # an empty file cannot be mapped (and is not JSON)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                bounds = objects_bounds(data, source.name)
                if bounds is not None:
                    spans = cut(data, *bounds, SPAN_BYTES, min(FIRST_SPAN_BYTES, SPAN_BYTES))
    if not spans:
        yield from _in_process(source, 0, batch, max_bytes, index)
        return
    if index:
        active_matcher()  # loaded before the helpers are forked: they share it
    with helpers.Pool(workers, fork=True, niceness=WORKER_NICENESS) as pool:
        streams = _streams(pool, path, spans, max_bytes, index, workers)
        try:
            yield from _in_order(source, path, spans, streams, batch, max_bytes, index)
        finally:
            for stream in streams:
                if stream is not None:
                    stream.close()  # a helper whose answers were not all read is stopped


def _streams(
    pool: helpers.Pool, path: str, spans: list[Span], max_bytes: int, index: bool, workers: int
) -> list[Generator[bytes, None, None] | None]:
    """Helper k's answers for spans k, k + n, ... of n streams (None: no helper, those spans are prepared here)."""
    n = min(workers, len(spans))
    streams: list[Generator[bytes, None, None] | None] = []
    for k in range(n):
        pending = pool.submit(TASK, orjson.dumps([path, spans[k::n], max_bytes, index]), wait=HELPER_START)
        streams.append(None if pending is None else pending.results())
    return streams


def _in_order(
    source: Source,
    path: str,
    spans: list[Span],
    streams: list[Generator[bytes, None, None] | None],
    batch: int,
    max_bytes: int,
    index: bool,
) -> Iterator[list[Prepared | Refused]]:
    def answer(i: int, *, use: bool = True) -> bytes | None:
        """Span i's prepared objects (None if its bytes do not parse alone), from its helper or made here."""
        k = i % len(streams)
        stream = streams[k]
        if stream is not None:
            try:
                blob = next(stream)
            except (StopIteration, helpers.HelperError):
                log.exception("a helper process failed; preparing its spans here")
                streams[k] = None
            else:
                return blob or None
        return _prepare_span((path, spans[i], max_bytes, index)) if use else None

    done = 0  # objects given out so far
    i = 0
    while i < len(spans):
        blob = answer(i)
        j = i
        while blob is None and j + 1 < len(spans):  # the cut after span j fell inside an element
            j += 1
            answer(j, use=False)  # the merge below covers it
            blob = _prepare_span((path, (spans[i][0], spans[j][1]), max_bytes, index))
        if blob is None:  # the tail does not parse: the file is not valid JSON after all
            yield from _in_process(source, done, batch, max_bytes, index)
            return
        items = unpack(blob)
        done += len(items)
        yield items
        i = j + 1
    for stream in streams:  # each helper's end of answers: it stays in service until the pool stops it
        if stream is not None:
            with contextlib.suppress(helpers.HelperError):
                for _ in stream:
                    pass


def _in_process(
    source: Source, skip: int, batch: int, max_bytes: int, index: bool
) -> Iterator[list[Prepared | Refused]]:
    """The objects of the file after the first `skip`, read again and prepared here (BadRequest if unreadable)."""
    wl = active_matcher() if index else None
    objects = itertools.islice(read_objects(source), skip, None)  # streamed: big files are not held whole
    while chunk := list(itertools.islice(objects, batch)):
        yield prepare_all(chunk, max_bytes, index=index, wl=wl)
