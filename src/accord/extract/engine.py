"""Find indicators of compromise and named threats in report prose.

Conventions: a URL's host is also reported (domain-name or IP address); an e-mail address's domain and the
file name at the end of a URL path are not. Hosts, e-mail addresses and hashes are lower-cased, IPv6 addresses
compressed, registry hives spelled out (HKLM -> HKEY_LOCAL_MACHINE), CVE ids upper-cased, AS numbers written
AS<n>. Addresses outside the global unicast space (RFC 1918, loopback, link-local, documentation ranges...) are
kept with the flag "private". Threat names are reported under their galaxy cluster's name with "alias:<as
written>" flags.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple, cast

from accord.core.perf import gc_paused
from accord.extract import galaxy, scan
from accord.extract.defang import refang_ascii

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

Warninglist = Callable[[str, str], list[str]]
_CONTEXT = 60
# Below this size a second thread costs more than the name search it would overlap.
_THREAD_MIN = 256_000
_KEY = itemgetter(0, 1)
_START = itemgetter(2)
_END = itemgetter(3)
_ORDER = itemgetter(2, 3, 0)
_TYPE = itemgetter(0)
_VALUE = itemgetter(1)
_FLAGS = itemgetter(4)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


class Finding(NamedTuple):
    """One distinct indicator: where it first appears, the text around it and how often it occurs."""

    # A named tuple rather than a frozen dataclass: as immutable, and built several times faster, which dense
    # reports with tens of thousands of distinct findings feel (bench_extract.py, dense text).

    type: str
    value: str
    start: int
    end: int
    context: str
    flags: tuple[str, ...] = ()
    occurrences: int = 1


def _names(text: str, lowered: bytes) -> list[scan.Raw]:
    out: list[scan.Raw] = []
    for start, end, entry in galaxy.find_names(text, lowered):
        written = text[start:end]
        flags = () if written == entry.canonical else (f"alias:{written}",)
        out.append((entry.type, entry.canonical, start, end, flags))
    return out


def _pool() -> ThreadPoolExecutor:
    """One worker for the name search, which overlaps the regex scans when the matcher releases the GIL."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            # Imported here: a process that reads only short texts never starts the thread (bench_extract_startup.py).
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-names")
        return _POOL


def _scan(fanged: str, ascii_text: bytes) -> list[scan.Raw]:
    # ascii_text has one byte per character of fanged, so offsets agree between the two.
    lowered = ascii_text.lower()
    names_future = None
    if len(fanged) >= _THREAD_MIN:
        names_future = _pool().submit(_names, fanged, lowered)
    rev = fanged[::-1]
    found: list[scan.Raw] = list(scan.urls(fanged, rev, lowered))
    found.extend(scan.emails(fanged, rev))
    found.extend(scan.registry_keys(fanged))
    # Later scanners must not find a URL's path file, an address's domain or a key's last component again.
    consumed = scan.Consumed([(r[2], r[3]) for r in found if r[0] in ("url", "email-addr", "windows-registry-key")])
    found.extend(scan.dotted(fanged, rev, consumed))
    found.extend(scan.ipv6(fanged, rev, consumed))
    found.extend(scan.hashes(fanged, ascii_text, consumed))
    found.extend(scan.bitcoin(fanged, ascii_text, lowered, consumed))
    found.extend(scan.small_patterns(fanged, lowered, consumed))
    found.extend(names_future.result() if names_future is not None else _names(fanged, lowered))
    return found


def extract(text: str, *, warninglist: Warninglist | None = None) -> list[Finding]:
    """All distinct findings in text (defanged forms refanged), ordered by first occurrence."""
    with gc_paused():  # candidates and findings are acyclic: on a dense report collector passes are pure cost
        return _extract(text, warninglist)


def _extract(text: str, warninglist: Warninglist | None) -> list[Finding]:
    fanged, ascii_text, offsets = refang_ascii(text)
    found = _scan(fanged, ascii_text)
    # Every flag any occurrence carried, in scanner order: the aliases a text used for a named threat.
    flags_of: dict[tuple[str, str], tuple[str, ...]] = {}
    for raw in filter(_FLAGS, found):
        have = flags_of.setdefault(raw[:2], raw[4])
        if have != raw[4]:
            flags_of[raw[:2]] = have + tuple(f for f in raw[4] if f not in have)
    # In output order, each key's first occurrence comes first; the counter keeps its keys in that order.
    found.sort(key=_ORDER)
    found_keys = list(map(_KEY, found))
    counts = Counter(found_keys)
    keys = list(counts)
    if len(keys) == len(found):
        ordered = found
    else:  # the earliest write to the dict wins by going last
        first = dict(zip(reversed(found_keys), reversed(found), strict=True))
        ordered = list(map(first.__getitem__, keys))
    starts, ends = offsets.original_spans(list(map(_START, ordered)), list(map(_END, ordered)))
    # flags_of.get with the occurrence's own flags as default never answers None.
    flags: list[tuple[str, ...]] = (
        cast("list[tuple[str, ...]]", list(map(flags_of.get, keys, map(_FLAGS, ordered))))
        if flags_of
        else list(map(_FLAGS, ordered))
    )
    if warninglist is not None:
        flags = [
            found_flags + tuple(f"warninglist:{name}" for name in warninglist(kind, value))
            for (kind, value), found_flags in zip(keys, flags, strict=True)
        ]
    # Line breaks are the usual whitespace in a context window other than single spaces; with them replaced in
    # one pass, most windows need only strip(); every whitespace character but the space is unprintable, so
    # the slow path runs only when needed (bench_extract.py, dense text).
    flat = text.replace("\n", " ")
    windows = [flat[max(0, start - _CONTEXT) : end + _CONTEXT] for start, end in zip(starts, ends, strict=True)]
    contexts = [w.strip() if w.isprintable() and "  " not in w else " ".join(w.split()) for w in windows]
    rows = zip(
        map(_TYPE, keys),
        map(_VALUE, keys),
        starts,
        ends,
        contexts,
        flags,
        counts.values(),
        strict=True,
    )
    # The rows become Findings in C (tuple.__new__), not through the named tuple's Python-level __new__.
    return list(map(tuple.__new__, repeat(Finding), rows))
