"""How one value is matched: the index probes it needs and the match kind of each answer (no SQL here).

Match kinds: ``exact`` (same normalised value), ``url-host`` (a URL's host equals a domain or address),
``cidr`` (an address inside a CIDR, or overlapping CIDRs, in both directions) and ``parent-domain``
(``a.evil.com`` <-> ``evil.com`` in both directions, never through a public suffix).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

from accord.correlate.indexer import display_value, storage_key
from accord.correlate.observables import domain_row, ip_row, public_suffix_size, url_rows
from accord.correlate.repository import CHILDREN, CONTAINS, EXACT, INSIDE, Probe
from accord.correlate.values import IndexValue, domain_key, domain_key_range
from accord.correlate.warninglists import WarninglistMatcher, active_matcher

_BITS = {"4": 32, "6": 128}


@lru_cache(maxsize=65536)
def _domain_shape(name: str) -> tuple[bool, tuple[str, ...], bool]:
    """(is a public suffix, parents down to the registrable domain, has a registrable domain): one PSL look-up."""
    labels = name.split(".")
    size = public_suffix_size(labels)
    if size == 0 or size >= len(labels) or not labels[-size - 1]:
        return size > 0 and size >= len(labels), (), False
    stop = len(labels) - size
    return False, tuple([".".join(labels[i:]) for i in range(1, stop)]), True


def is_public_suffix(name: str) -> bool:
    """Whether a normalised name is itself a public suffix (co.uk, github.io): never a correlation."""
    return _domain_shape(name)[0]


def matcher() -> WarninglistMatcher:
    """The shared matcher for the configured active warninglists."""
    return active_matcher()


def correlatable(row: IndexValue) -> bool:
    """Whether an index row of an object may take part in correlation at all."""
    if not row.correlating or row.kind.startswith("ref:"):
        return False
    return not (row.kind == "domain" and is_public_suffix(row.value))


def probes_for(tag: int, row: IndexValue, cidr_lengths: Mapping[str, Sequence[int]], *, related: bool) -> list[Probe]:
    """Index probes for one value: its exact key, plus (when `related`) CIDR and parent/child domain probes."""
    return [Probe(tag, *key) for key in probe_keys(row, cidr_lengths, related=related)]


def probe_keys(
    row: IndexValue, cidr_lengths: Mapping[str, Sequence[int]], *, related: bool
) -> list[tuple[str, str, str, str]]:
    """The probes of `probes_for` as (mode, kind, a, b), without a tag: batches share them between values."""
    out = [(EXACT, row.kind, storage_key(row.key), "")]
    if not related:
        return out
    if row.kind == "ip" and row.lo is not None and row.hi is not None:
        family = row.lo[0]
        bits, width = _BITS[family], _BITS[family] // 4
        lo, hi = int(row.lo[2:], 16), int(row.hi[2:], 16)
        own = bits - (hi - lo).bit_length()
        for plen in cidr_lengths.get(family, ()):
            if plen < own:
                host = (1 << (bits - plen)) - 1
                net = lo & ~host
                out.append((CONTAINS, "ip", f"{family}:{net:0{width}x}", f"{family}:{net | host:0{width}x}"))
        if lo != hi:
            out.append((INSIDE, "ip", row.lo, row.hi))
    elif row.kind == "domain":
        _, parents, registrable = _domain_shape(row.value)
        if registrable:  # one range answers the domain itself and its subdomains
            lo_key, hi_key = domain_key_range(row.value)
            out[0] = (CHILDREN, "domain", lo_key, hi_key)
        out += [(EXACT, "domain", domain_key(parent), "") for parent in parents]
    return out


def url_hosts(rows: Iterable[IndexValue]) -> set[tuple[str, str]]:
    """(kind, key) of the hosts of the URL rows among `rows`."""
    hosts: set[tuple[str, str]] = set()
    for row in rows:
        if row.kind == "url":
            parsed = url_rows(row.value)
            if len(parsed) == 2:
                hosts.add((parsed[1].kind, parsed[1].key))
    return hosts


def match_kind(source: IndexValue, kind: str, key: str, hosts: set[tuple[str, str]]) -> str:
    """How an answer (kind, key) matched `source`; `hosts` are URL hosts on either side."""
    if key == storage_key(source.key):
        if kind in ("domain", "ip") and (kind, source.key) in hosts:
            return "url-host"
        return "exact"
    return "cidr" if kind == "ip" else "parent-domain"


def shown(kind: str, key: str, value: str | None) -> str:
    """The value of a matched index row for people."""
    return display_value(kind, key, value)


def object_name(obj: Mapping[str, Any]) -> str | None:
    """A display name for an object: its name, else its value (SCOs), else None."""
    for field in ("name", "value", "pattern"):
        got = obj.get(field)
        if isinstance(got, str):
            return got
    return None


def recorded_value(kind: str, key: str) -> IndexValue | None:
    """The index row of a recorded (kind, key) of kind ip or domain, with what range probes need (else None)."""
    if kind == "ip":
        return ip_row(key)
    if kind == "domain":
        return domain_row(display_value(kind, key, None))
    return None


class HeldValues:
    """A few index rows (ip and domain) held in memory, answering probes (probe_keys) as the value index does
    (accord.correlate.repository): exact key, CIDR bounds equal, low bound inside a range, key range."""

    def __init__(self, rows: Iterable[IndexValue]) -> None:
        self.rows: dict[tuple[str, str], IndexValue] = {}
        bounds: dict[tuple[str, str, str], list[str]] = {}
        los: dict[str, list[tuple[str, str]]] = {}
        keys: dict[str, list[str]] = {}
        lengths: dict[str, set[int]] = {}
        for row in rows:
            key = storage_key(row.key)
            if (row.kind, key) in self.rows:
                continue
            self.rows[(row.kind, key)] = row
            keys.setdefault(row.kind, []).append(key)
            if row.lo is not None and row.hi is not None:
                bounds.setdefault((row.kind, row.lo, row.hi), []).append(key)
                los.setdefault(row.kind, []).append((row.lo, key))
                if row.lo != row.hi:
                    lengths.setdefault(row.lo[0], set()).add(int(row.key.rpartition("/")[2]))
        self._bounds = bounds
        self._los = {k: sorted(v) for k, v in los.items()}
        self._keys = {k: sorted(v) for k, v in keys.items()}
        self.cidr_lengths = {family: sorted(v) for family, v in lengths.items()}

    def answer(self, mode: str, kind: str, a: str, b: str) -> list[str]:
        """Keys of the held rows of `kind` answering one probe."""
        if mode == EXACT:
            return [a] if (kind, a) in self.rows else []
        if mode == CONTAINS:
            return self._bounds.get((kind, a, b), [])
        if mode == INSIDE:
            los = self._los.get(kind, [])
            out = []
            for lo, key in los[bisect_left(los, (a, "")) :]:
                if lo > b:
                    break
                out.append(key)
            return out
        keys = self._keys.get(kind, [])
        out = []
        for key in keys[bisect_left(keys, a) :]:
            if key >= b:
                break
            out.append(key)
        return out

    def related(self, row: IndexValue) -> Iterator[tuple[IndexValue, str]]:
        """The held rows related to `row` other than by an equal value (IP ranges, parent domains, both ways),
        each with its match kind (match_kind)."""
        own = storage_key(row.key)
        for mode, kind, a, b in probe_keys(row, self.cidr_lengths, related=True):
            for key in self.answer(mode, kind, a, b):
                if key != own:
                    yield self.rows[(kind, key)], match_kind(row, kind, key, set())
