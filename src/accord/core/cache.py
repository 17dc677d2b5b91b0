"""Structures built from installed package data, kept in var/cache so that later processes load them instead.

A cache file is named by a digest of everything its structure is built from (package versions, the code that
builds it, its format), so a change to any of them names another file and the stale one is simply no longer
read. A file holds a header (CRC-32 and length of the payload) and the payload; one that is missing, truncated
or damaged, or whose payload does not load, is rebuilt and written again (to a temporary file, then renamed, so
a reader never sees half of one). Nothing here fetches anything: the builders read installed files only.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
        with tmp.open("wb") as fh:
            fh.write(_HEADER.pack(zlib.crc32(data), len(data)))
            fh.write(data)
        tmp.replace(path)
    except OSError:  # a read-only var/ only costs the next process the build
        pass
    return built
