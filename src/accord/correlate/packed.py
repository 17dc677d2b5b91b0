"""Value -> list-names tables as the warninglist matcher keeps them in var/cache (accord.correlate.warninglists):
packed into one byte string in hash buckets, so that a process answers its first look-ups from the bytes of one
bucket and builds the whole dict only when many look-ups come."""

from __future__ import annotations

import pickle
import zlib
from array import array
from collections.abc import Callable
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
    return dumps(
        (
            "buckets",
            list(numbers),
            array("I", (numbers[names[i]] for i in order)).tobytes(),
            b"".join(keys[i] + b"\n" for i in order),
            array("I", offsets).tobytes(),
            array("I", firsts).tobytes(),
        )
    )


class PackedTable:
    """A value -> list names table as read from var/cache. Its first look-ups each split one hash bucket of its
    bytes, so a small report's process never builds the whole dict; from PROBES look-ups on (or when a batch
    asks for more) it answers from the dict, built once (bench_extract_startup.py)."""

    def __init__(self, blob: bytes | None) -> None:
        # from pack_table, in the node's own var/ folder
        state = pickle.loads(blob) if blob else ("plain", [], b"", [])  # noqa: S301
        self._distinct: list[tuple[str, ...]] = state[1]
        self._numbers: array[int] = array("I", state[2])
        self._plain: list[str] | None = state[3] if state[0] == "plain" else None
        if self._plain is None:
            self._keys: bytes = state[3]
            self._offsets: array[int] = array("I", state[4])
            self._firsts: array[int] = array("I", state[5])
        self._probes = 0
        self._dict: dict[str, tuple[str, ...]] | None = None

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
        chunk = self._keys[self._offsets[bucket] : self._offsets[bucket + 1]].split(b"\n")[:-1]
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
                keys = self._keys.decode("utf-8", "surrogatepass").split("\n")
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
