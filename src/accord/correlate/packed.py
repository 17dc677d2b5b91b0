"""Value -> list-names tables as the warninglist matcher keeps them in var/cache (accord.correlate.warninglists):
packed into one byte string in hash buckets, so that a process answers its first look-ups from the bytes of one
bucket and builds the whole dict only when many look-ups come."""

from __future__ import annotations

import pickle
import struct
import zlib
from array import array
from collections.abc import Callable, Sequence
from itertools import accumulate


def dumps(table: object) -> bytes:
    return pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL)


PROBES = 256  # look-ups a packed table answers from its bytes before it is unpacked into a dict


def pack_table(table: dict[str, tuple[str, ...]]) -> bytes:
    """A value -> list names table as its distinct name tuples, each value's tuple number, and the values in hash
    buckets (one byte string, the buckets' offsets and first value numbers), for PackedTable."""
    numbers = {names: number for number, names in enumerate(dict.fromkeys(table.values()))}
    keys = [key.encode("utf-8", "surrogatepass") for key in table]
    if any(b"\n" in key for key in keys):  # cannot be split on line breaks: a plain list, unpacked on first use
        plain = array("I", map(numbers.__getitem__, table.values()))
        return dumps(("plain", list(numbers), plain.tobytes(), list(table)))
    buckets: list[list[int]] = [[] for _ in range(max(1, len(keys) // 8))]
    for i, key in enumerate(keys):
        buckets[zlib.crc32(key) % len(buckets)].append(i)
    order = [i for bucket in buckets for i in bucket]
    offsets = list(accumulate((sum(len(keys[i]) + 1 for i in bucket) for bucket in buckets), initial=0))
    firsts = list(accumulate((len(bucket) for bucket in buckets[:-1]), initial=0))
    names = list(table.values())
    # Raw arrays after a small header, not a pickle: a process reads them in place (memoryview), where unpickling
    # would copy megabytes of hash keys to probe a few thousand of them (bench_extract.py, dense text).
    head = dumps(list(numbers))
    parts = [
        array("I", (numbers[names[i]] for i in order)).tobytes(),
        array("I", offsets).tobytes(),
        array("I", firsts).tobytes(),
    ]
    keys_blob = b"".join(keys[i] + b"\n" for i in order)
    return b"".join([_LAYOUT.pack(_MAGIC, len(head), *map(len, parts)), head, *parts, keys_blob])


_MAGIC = b"PKB1"  # never the start of a pickle (b"\x80")
_LAYOUT = struct.Struct("<4sIIII")  # magic, lengths of the names' pickle, numbers, offsets and firsts


class PackedTable:
    """A value -> list names table as read from var/cache. Its first look-ups each split one hash bucket of its
    bytes, so a small report's process never builds the whole dict; from PROBES look-ups on (or when a batch
    asks for more) it answers from the dict, built once (bench_extract_startup.py)."""

    def __init__(self, blob: bytes | None) -> None:
        self._blob = blob
        self._probes = 0
        self._dict: dict[str, tuple[str, ...]] | None = None
        self._plain: list[str] | None = None
        if blob is not None and blob[:4] == _MAGIC:
            _, head, numbers, offsets, firsts = _LAYOUT.unpack_from(blob)
            view = memoryview(blob)
            at = _LAYOUT.size
            # from pack_table, in the node's own var/ folder
            self._distinct: list[tuple[str, ...]] = pickle.loads(view[at : at + head])  # noqa: S301
            at += head
            self._numbers: Sequence[int] = view[at : at + numbers].cast("I")
            at += numbers
            self._offsets: Sequence[int] = view[at : at + offsets].cast("I")
            at += offsets
            self._firsts: Sequence[int] = view[at : at + firsts].cast("I")
            self._keys = view[at + firsts :]
            return
        # a plain table (keys with line breaks), or none
        state = pickle.loads(blob) if blob else ("plain", [], b"", [])  # noqa: S301 - as above
        self._distinct = state[1]
        self._numbers = array("I", state[2])
        self._plain = state[3]

    def __reduce__(self) -> tuple[type[PackedTable], tuple[bytes | None]]:
        """Pickled as the bytes it was read from (its arrays are views of them, which cannot be pickled)."""
        return PackedTable, (self._blob,)

    def get(self, key: str) -> tuple[str, ...] | None:
        """The names of the lists that hold key; None when none does."""
        if self._dict is not None:
            return self._dict.get(key)
        self._probes += 1
        if self._plain is not None or self._probes > PROBES:
            return self.unpacked().get(key)
        return self.probe(key)

    def __len__(self) -> int:
        return len(self._numbers)

    def probe(self, key: str) -> tuple[str, ...] | None:
        """get(key) from the bytes, never from the dict."""
        if self._plain is not None:
            return self.unpacked().get(key)
        raw = key.encode("utf-8", "surrogatepass")
        bucket = zlib.crc32(raw) % len(self._firsts)
        chunk = self._keys[self._offsets[bucket] : self._offsets[bucket + 1]].tobytes().split(b"\n")[:-1]
        try:
            at = chunk.index(raw)
        except ValueError:
            return None
        return self._distinct[self._numbers[self._firsts[bucket] + at]]

    def unpacked(self) -> dict[str, tuple[str, ...]]:
        """The table as a dict (built on the first call; threads racing here build equal copies)."""
        if self._dict is None:
            keys = self._plain
            if keys is None:
                keys = str(self._keys, "utf-8", "surrogatepass").split("\n")
                keys.pop()  # after the last line break
            self._dict = dict(zip(keys, map(self._distinct.__getitem__, self._numbers), strict=True))
        return self._dict


Table = dict[str, tuple[str, ...]] | PackedTable


def as_dict(table: Table) -> dict[str, tuple[str, ...]]:
    return table if isinstance(table, dict) else table.unpacked()


def getter(table: Table, lookups: int) -> Callable[[str], tuple[str, ...] | None]:
    """table's get for a batch of look-ups: a packed table probes its bytes for a batch much smaller than itself
    (a report's few thousand hashes against a hash list), and is unpacked into a dict for a larger one."""
    if isinstance(table, dict):
        return table.get
    return table.probe if lookups <= PROBES or lookups * 8 < len(table) else table.unpacked().get
