"""Structures built from installed package data, kept in var/cache so that later processes load them instead.

A cache file is named by a digest of everything its structure is built from (package versions, the code that
builds it, its format), so a change to any of them names another file; writing one removes those not written
for a day. A file holds a header (CRC-32 and length of the payload) and the payload; one that is missing,
truncated or damaged, or whose payload does not load, is rebuilt and written again (to a temporary file, then
renamed, so a reader never sees half of one). Nothing here fetches anything: the builders read installed files only.

A large structure of which a process often needs only a part (the warninglists: a small report looks up a URL
and its host, not 200,000 known file hashes) is kept as named sections instead: a table of the sections
(name, length, CRC-32) after the header, then the sections, each read and checked only when asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import struct
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import orjson

from accord.core.settings import get_settings

T = TypeVar("T")

_HEADER = struct.Struct(">IQ")  # CRC-32 and length of the payload
# What a payload that passed the checksum may still raise while loading (a format this code no longer reads).
_LOAD_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    ImportError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
)


def cache_path(name: str, *parts: bytes) -> Path:
    """var/cache/NAME-DIGEST, the digest taken over parts (everything the cached structure is built from)."""
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return get_settings().var_dir / "cache" / f"{name}-{digest.hexdigest()}"


def package_files(package: str, *names: str) -> list[bytes]:
    """The bytes of files installed with a package (located, not imported): part of a cache file's name."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return [(folder / name).read_bytes() for name in names]


def _payload(blob: bytes) -> bytes | None:
    if len(blob) < _HEADER.size:
        return None
    crc, length = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size :]
    return payload if len(payload) == length and zlib.crc32(payload) == crc else None


def load_or_build(path: Path, build: Callable[[], T], dump: Callable[[T], bytes], load: Callable[[bytes], T]) -> T:
    """The structure cached at path, or build() (then cached) when the file is missing, damaged or unloadable."""
    try:
        payload = _payload(path.read_bytes())
    except OSError:
        payload = None
    if payload is not None:
        try:
            return load(payload)
        except _LOAD_ERRORS:
            pass
    built = build()
    data = dump(built)
    _write(path, [_HEADER.pack(zlib.crc32(data), len(data)), data])
    return built


def _write(path: Path, chunks: Sequence[bytes]) -> None:
    """path made of chunks, written whole or not at all (a temporary file renamed)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
        with tmp.open("wb") as fh:
            fh.writelines(chunks)
        tmp.replace(path)
    except OSError:  # a read-only var/ only costs the next process the build
        return
    _prune(path)


STALE_AFTER_S = 86_400.0  # a sibling not written for this long is no longer used by any process of the node


def _prune(path: Path) -> None:
    """Remove the files of the same structure built from other inputs and not written for a day (an upgrade
    names a new file, and the old one would otherwise stay in var/cache for good). Recent ones are kept: another
    configuration may be in use beside this one (tests, a second node on the same var/)."""
    name, _, digest = path.name.rpartition("-")
    cutoff = time.time() - STALE_AFTER_S
    for other in path.parent.glob(f"{name}-*"):
        rest = other.name[len(name) + 1 :]
        if rest == digest or len(rest) != len(digest) or any(c not in "0123456789abcdef" for c in rest):
            continue
        with contextlib.suppress(OSError):
            if other.stat().st_mtime < cutoff:
                other.unlink()


class Sections:
    """The named sections of a structure kept in one cache file, each read and checked when first asked for.

    A section found damaged (or the file gone) since its table was read makes the structure be built again:
    the file is written again and every section is then answered from memory.
    """

    def __init__(
        self,
        path: Path,
        where: dict[str, tuple[int, int, int]],
        build: Callable[[], dict[str, bytes]],
        built: dict[str, bytes] | None = None,
    ) -> None:
        self._path = path
        self._where = where  # name -> (offset, length, CRC-32)
        self._build = build
        self._built = built

    def names(self) -> frozenset[str]:
        """The names of the sections."""
        return frozenset(self._built if self._built is not None else self._where)

    def get(self, name: str) -> bytes | None:
        """One section's bytes; None when there is no section of that name."""
        if self._built is not None:
            return self._built.get(name)
        found = self._where.get(name)
        if found is None:
            return None
        offset, length, crc = found
        try:
            with self._path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError:
            data = b""
        if len(data) == length and zlib.crc32(data) == crc:
            return data
        self._built = _build_sections(self._path, self._build)
        return self._built.get(name)


def _build_sections(path: Path, build: Callable[[], dict[str, bytes]]) -> dict[str, bytes]:
    sections = build()
    table = orjson.dumps([[name, len(data), zlib.crc32(data)] for name, data in sections.items()])
    _write(path, [_HEADER.pack(zlib.crc32(table), len(table)), table, *sections.values()])
    return sections


def load_or_build_sections(path: Path, build: Callable[[], dict[str, bytes]]) -> Sections:
    """The sections cached at path (only their table read now), or build()'s, then cached, when the file is
    missing or its table damaged."""
    try:
        with path.open("rb") as fh:
            crc, length = _HEADER.unpack(fh.read(_HEADER.size))
            table = fh.read(length)
        if len(table) != length or zlib.crc32(table) != crc:
            raise ValueError("damaged table")
        where: dict[str, tuple[int, int, int]] = {}
        offset = _HEADER.size + length
        for name, size, section_crc in orjson.loads(table):
            where[str(name)] = (offset, int(size), int(section_crc))
            offset += int(size)
    except (OSError, struct.error, ValueError, TypeError):  # orjson's decode error is a ValueError
        return Sections(path, {}, build, _build_sections(path, build))
    return Sections(path, where, build)
