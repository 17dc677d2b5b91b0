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
from collections import Counter, deque
from collections.abc import Callable
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple, cast

from accord.core.perf import gc_paused
from accord.extract import galaxy, scan
from accord.extract.defang import OffsetMap, refang_ascii

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

Warninglist = Callable[[str, str], list[str]]
_CONTEXT = 60
# Control characters other than the line break as "c", the rest as spaces.
_CONTROL_MASK = bytes(ord("c") if (i < 32 and i != 10) or i == 127 else 32 for i in range(256))
_FAR = 1 << 62
# Below this size a second thread costs more than the name search it would overlap.
_THREAD_MIN = 256_000
_START = itemgetter(0)
_END = itemgetter(1)
_KEY = itemgetter(2)
_FLAGS = itemgetter(3)
_TYPE = itemgetter(0)
_VALUE = itemgetter(1)
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
        out.append((start, end, (entry.type, entry.canonical), flags))
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
    found = scan.urls(fanged, rev, lowered)
    found.extend(scan.emails(fanged, rev))
    found.extend(scan.registry_keys(fanged))
    # Later scanners must not find a URL's path file, an address's domain or a key's last component again.
    consumed = scan.Consumed([(r[0], r[1]) for r in found if r[2][0] in ("url", "email-addr", "windows-registry-key")])
    found.extend(scan.dotted(fanged, rev, consumed))
    found.extend(scan.ipv6(fanged, rev, consumed))
    found.extend(scan.hashes(fanged, ascii_text, consumed))
    found.extend(scan.bitcoin(fanged, ascii_text, lowered, consumed))
    found.extend(scan.small_patterns(fanged, lowered, consumed))
    found.extend(names_future.result() if names_future is not None else _names(fanged, lowered))
    return found


def _controls(ascii_text: bytes, offsets: OffsetMap) -> list[int]:
    """Original offsets of the control characters other than line breaks, in order, then a sentinel."""
    mask = ascii_text.translate(_CONTROL_MASK)
    found = []
    pos = mask.find(b"c")
    while pos >= 0:
        found.append(offsets.start(pos))  # refanging never edits a control character
        pos = mask.find(b"c", pos + 1)
    found.append(_FAR)
    return found


def _contexts(text: str, controls: list[int], starts: list[int], ends: list[int]) -> list[str]:
    """The text _CONTEXT characters either side of each span, whitespace runs made single spaces, stripped."""
    # Line breaks are the usual whitespace in a context window other than single spaces; with them replaced in
    # one pass, most windows need only strip(): " ".join(w.split()) is w.strip() for a printable window (every
    # whitespace character but the space is unprintable) with no two spaces in a row. An ASCII window without
    # a control character is printable, and isascii() is a flag on the string where isprintable() reads every
    # character; the few controls (tabs) are passed by index as the windows move forward (bench_extract.py,
    # dense text).
    flat = text.replace("\n", " ")
    contexts: list[str] = []
    add = contexts.append
    c = previous = 0
    control = controls[0]
    for start, end in zip(starts, ends, strict=True):
        low = start - _CONTEXT if start > _CONTEXT else 0
        if low < previous:  # out of order: walk again from the first control
            c = 0
            control = controls[0]
        previous = low
        while control < low:
            c += 1
            control = controls[c]
        high = end + _CONTEXT
        w = flat[low:high]
        add(w.strip() if control >= high and w.isascii() and "  " not in w else " ".join(w.split()))
    return contexts


def extract(text: str, *, warninglist: Warninglist | None = None) -> list[Finding]:
    """All distinct findings in text (defanged forms refanged), ordered by first occurrence."""
    with gc_paused():  # candidates and findings are acyclic: on a dense report collector passes are pure cost
        return _extract(text, warninglist)


def _extract(text: str, warninglist: Warninglist | None) -> list[Finding]:
    fanged, ascii_text, offsets = refang_ascii(text)
    found = _scan(fanged, ascii_text)
    # Every flag any occurrence carried, in scanner order: the aliases a text used for a named threat.
    flags_of: dict[scan.Key, scan.Flags] = {}
    for raw in filter(_FLAGS, found):
        have = flags_of.setdefault(raw[2], raw[3])
        if have != raw[3]:
            flags_of[raw[2]] = have + tuple(f for f in raw[3] if f not in have)
    # Text order: by start, end, then type (a span holds one finding of a type: one value).
    found.sort()
    # Each key's first occurrence in text order, kept by setdefault called from C; the counter keeps its keys in
    # the same order.
    found_keys = list(map(_KEY, found))
    counts = Counter(found_keys)
    if len(counts) == len(found):
        ordered = found
    else:
        first: dict[scan.Key, scan.Raw] = {}
        deque(map(first.setdefault, found_keys, found), maxlen=0)
        ordered = list(first.values())
    keys = list(counts)
    starts, ends = offsets.original_spans(list(map(_START, ordered)), list(map(_END, ordered)))
    # flags_of.get with the occurrence's own flags as default never answers None.
    flags: list[scan.Flags] = (
        cast("list[scan.Flags]", list(map(flags_of.get, keys, map(_FLAGS, ordered))))
        if flags_of
        else list(map(_FLAGS, ordered))
    )
    if warninglist is not None:
        flags = [
            found_flags + tuple(f"warninglist:{name}" for name in warninglist(kind, value))
            for (kind, value), found_flags in zip(keys, flags, strict=True)
        ]
    contexts = _contexts(text, _controls(ascii_text, offsets), starts, ends)
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
