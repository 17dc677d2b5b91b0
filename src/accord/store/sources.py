"""Read STIX bundles from files, gzip files, directories and stdin, streaming the big ones."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from accord.core.errors import BadRequest

# Files up to this size are parsed in one orjson call (fastest); bigger ones are streamed with ijson.
WHOLE_FILE_LIMIT = 256 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Source:
    """One input: a file path or '-' for standard input."""

    name: str
    path: Path | None
    size: int | None


def expand(paths: list[str]) -> list[Source]:
    """Files to read for the given arguments (directories give their .json/.json.gz files, sorted)."""
    sources: list[Source] = []
    for arg in paths:
        if arg == "-":
            sources.append(Source("<stdin>", None, None))
            continue
        p = Path(arg)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith((".json", ".json.gz")))
            if not found:
                raise BadRequest(f"{arg}: no .json or .json.gz files in this directory")
            sources.extend(Source(str(f), f, f.stat().st_size) for f in found)
        elif p.is_file():
            sources.append(Source(arg, p, p.stat().st_size))
        else:
            raise BadRequest(f"{arg}: no such file or directory")
    return sources


def _open(source: Source) -> tuple[IO[bytes], IO[bytes]]:
    """(stream to parse, underlying handle to close)."""
    raw: IO[bytes] = sys.stdin.buffer if source.path is None else source.path.open("rb")
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    return raw, raw


def parse_bundle(data: bytes, name: str) -> list[Any]:
    """The objects of one bundle held in memory, or a one-line reason why it is not a bundle."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{name}: not valid JSON ({exc})") from None
    return bundle_objects(doc, name)


def bundle_objects(doc: Any, name: str) -> list[Any]:
    """The `objects` list of a parsed bundle, with a precise reason when it is not one."""
    if not isinstance(doc, dict):
        raise BadRequest(f"{name}: not a STIX bundle (the document is a JSON {type(doc).__name__})")
    if doc.get("type") != "bundle":
        raise BadRequest(f"{name}: not a STIX bundle (type is {doc.get('type')!r}, expected 'bundle')")
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise BadRequest(f"{name}: bundle 'objects' is not a list")
    if "spec_version" in doc:
        raise BadRequest(f"{name}: STIX 2.0 bundle (it has spec_version); only STIX 2.1 is accepted")
    return objects


def read_objects(source: Source) -> Iterator[Any]:
    """Yield the objects of one source; raises BadRequest (before or while yielding) on unreadable input."""
    stream, handle = _open(source)
    try:
        gz = isinstance(stream, gzip.GzipFile)
        if source.path is not None and not gz and (source.size or 0) <= WHOLE_FILE_LIMIT:
            yield from parse_bundle(stream.read(), source.name)
            return
        if source.path is None or gz:
            # stdin and gzip: read up to the limit; stream past it.
            head = stream.read(WHOLE_FILE_LIMIT + 1)
            if len(head) <= WHOLE_FILE_LIMIT:
                yield from parse_bundle(head, source.name)
                return
            stream = io.BufferedReader(_Chain(head, stream))
        yield from _stream_objects(stream, source.name)
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise BadRequest(f"{source.name}: unreadable input ({exc})") from None
    finally:
        if source.path is not None:
            stream.close()
            handle.close()


def _stream_objects(stream: IO[bytes], name: str) -> Iterator[Any]:
    """Yield `objects` items one by one from a bundle too big to hold in memory."""
    builder: Any = None
    depth = 0
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if depth == 0:
                if prefix == "type" and event == "string" and value != "bundle":
                    raise BadRequest(f"{name}: not a STIX bundle (type is {value!r}, expected 'bundle')")
                if prefix == "" and event not in ("start_map", "end_map"):
                    raise BadRequest(f"{name}: not a STIX bundle (the document is not a JSON object)")
                if prefix != "objects.item":
                    continue
                if event not in ("start_map", "start_array"):
                    yield value  # a scalar in the objects list: validation refuses it with a reason
                    continue
                builder = ijson.ObjectBuilder()
            builder.event(event, value)
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    yield builder.value
    except ijson.JSONError as exc:
        raise BadRequest(f"{name}: not valid JSON ({exc})") from None
    except UnicodeDecodeError:
        raise BadRequest(f"{name}: not valid UTF-8") from None


class _Chain(io.RawIOBase):
    """A read-only stream that returns `head` and then the rest of `tail`."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
