"""Known-benign value lists (MISP warninglists, bundled with pymispwarninglists) answered in memory.

A :class:`WarninglistMatcher` is built once from the package's own list files (never fetched) and then
answers ``hits(kind, value)`` for normalised index values with set, bisect and suffix look-ups only.

Choices:
- Lists are named by their ``name`` field, as MISP and pymispwarninglists name them; ``enabled`` also
  accepts a list's folder name (``rfc1918``).
- ``enabled=None`` means every bundled list except :data:`DEFAULT_EXCLUDED`: the two million-entry
  "top sites" lists take seconds and hundreds of MiB to load, and their long tails hold real malicious
  domains, so they would hide true hits. The smaller top lists (tranco10k, cisco top 20k, alexa) stay on.
- A list applies to a kind through its ``matching_attributes`` (MISP attribute types).
- An IP range (CIDR) hits a list only when the whole range lies inside that list's ranges.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import pickle
import re
import socket
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import orjson

from accord.core.cache import cache_path, load_or_build
from accord.core.settings import get_settings
from accord.correlate import observables
from accord.correlate.observables import ip_range_bounds, normalize_domain, url_rows

__all__ = [
    "DEFAULT_EXCLUDED",
    "WarninglistMatcher",
    "active_matcher",
    "active_names",
    "bundled_slugs",
    "get_matcher",
    "load_list",
]

DEFAULT_EXCLUDED = frozenset({"tranco", "google-chrome-crux-1million"})

_KINDS_BY_ATTRIBUTE: dict[str, tuple[str, ...]] = {
    "ip-src": ("ip",),
    "ip-dst": ("ip",),
    "ip-src|port": ("ip",),
    "ip-dst|port": ("ip",),
    "domain|ip": ("ip", "domain"),
    "domain": ("domain",),
    "hostname": ("domain",),
    "hostname|port": ("domain",),
    "url": ("url", "domain"),
    "uri": ("url",),
    "email": ("email",),
    "email-src": ("email",),
    "email-dst": ("email",),
    "target-email": ("email",),
    "whois-registrant-email": ("email",),
}
for _algo in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512"):
    _KINDS_BY_ATTRIBUTE[_algo] = (f"hash:{_algo}",)
    _KINDS_BY_ATTRIBUTE[f"filename|{_algo}"] = (f"hash:{_algo}",)


@lru_cache(maxsize=1)
def _data_dir() -> Path:
    # Locate the package without importing it: its import pulls in jsonschema, which takes seconds.
    spec = importlib.util.find_spec("pymispwarninglists")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pymispwarninglists is not installed")
    return Path(spec.submodule_search_locations[0]) / "data" / "misp-warninglists" / "lists"


@lru_cache(maxsize=1)
def bundled_slugs() -> tuple[str, ...]:
    """Folder names of the bundled warninglists."""
    return tuple(sorted(path.parent.name for path in _data_dir().glob("*/list.json")))


def load_list(slug: str) -> dict[str, Any]:
    """One bundled warninglist, read from the installed package (no network; not cached: lists are big)."""
    data: dict[str, Any] = orjson.loads((_data_dir() / slug / "list.json").read_bytes())
    return data


def _choose(enabled: Iterable[str] | None) -> list[dict[str, Any]]:
    if enabled is None:
        return [load_list(slug) for slug in bundled_slugs() if slug not in DEFAULT_EXCLUDED]
    wanted = set(enabled)
    slugs = bundled_slugs()
    chosen = [load_list(slug) for slug in slugs if slug in wanted]
    if len(chosen) < len(wanted):
        # Some lists were named by their `name` field: only then read every list to learn the names.
        others = (load_list(slug) for slug in slugs if slug not in wanted)
        chosen += [data for data in others if data["name"] in wanted]
    return chosen


def _ip_entry(entry: str) -> str | None:
    bounds = ip_range_bounds(entry)
    return None if bounds is None else entry.strip().lower()


def _url_entry(entry: str) -> str | None:
    rows = url_rows(entry) if "://" in entry else ()
    return rows[0].value if rows else None


def _domain_entry(entry: str) -> str | None:
    return normalize_domain(entry.lstrip("."))


def _plain_entry(entry: str) -> str | None:
    return entry.strip().lower()


# How list entries are normalised so they compare equal to index values of each kind.
_ENTRY_KEYS: dict[str, Callable[[str], str | None]] = {
    "domain": _domain_entry,
    "ip": _ip_entry,
    "url": _url_entry,
}
# Hash lists serve several algorithms at once: an entry belongs only to the algorithm its length names.
_HASH_KIND_BY_LENGTH = {32: "hash:md5", 40: "hash:sha1", 56: "hash:sha224", 64: "hash:sha256"}
_HASH_KIND_BY_LENGTH |= {96: "hash:sha384", 128: "hash:sha512"}


class _Ranges:
    """Disjoint segments of one address family, each with the lists covering it, for bisect look-ups."""

    def __init__(self, intervals: list[tuple[int, int, str]]) -> None:
        events: dict[int, list[tuple[str, int]]] = defaultdict(list)
        for lo, hi, name in intervals:
            events[lo].append((name, 1))
            events[hi + 1].append((name, -1))
        active: dict[str, int] = {}
        interned: dict[frozenset[str], tuple[str, ...]] = {}
        self.starts: list[int] = []
        self.names: list[tuple[str, ...]] = []
        for point in sorted(events):
            for name, delta in events[point]:
                count = active.get(name, 0) + delta
                if count:
                    active[name] = count
                else:
                    del active[name]
            current = frozenset(active)
            names = interned.setdefault(current, tuple(sorted(current)))
            if self.names and self.names[-1] is names:
                continue  # same lists as the segment before: merge
            self.starts.append(point)
            self.names.append(names)

    def at(self, number: int) -> tuple[str, ...]:
        i = bisect_right(self.starts, number) - 1
        return self.names[i] if i >= 0 else ()

    def covering(self, lo: int, hi: int) -> tuple[str, ...]:
        i = bisect_right(self.starts, lo) - 1
        if i < 0:
            return ()
        common = set(self.names[i])
        j = i + 1
        while common and j < len(self.starts) and self.starts[j] <= hi:
            common.intersection_update(self.names[j])
            j += 1
        return tuple(sorted(common))


class WarninglistMatcher:
    """In-memory matcher over the enabled bundled warninglists."""

    def __init__(self, enabled: Iterable[str] | None = None) -> None:
        chosen = _choose(enabled)
        self._names = tuple(data["name"] for data in chosen)
        self.fingerprint = _fingerprint(self._names)
        self._exact: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
        self._packed: dict[str, bytes] = {}  # exact tables still pickled (see __getstate__)
        self._sections: dict[str, bytes] = {}  # other tables still pickled: "suffix", "ranges", "substr:<kind>"
        self._suffix: dict[str, tuple[str, ...]] | None = {}
        self._regex: dict[str, list[tuple[re.Pattern[str], str]]] = defaultdict(list)
        substrings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        intervals: dict[str, list[tuple[int, int, str]]] = {"4": [], "6": []}
        for data in chosen:
            self._add_list(data, substrings, intervals)
        self._ranges: dict[str, _Ranges] | None = {family: _Ranges(found) for family, found in intervals.items()}
        self._substr: dict[str, Any] = {}
        for kind, words in substrings.items():
            automaton = ahocorasick.Automaton()
            for word, names in words.items():
                automaton.add_word(word, tuple(names))
            automaton.make_automaton()
            self._substr[kind] = automaton

    def _add_list(
        self,
        data: dict[str, Any],
        substrings: dict[str, dict[str, list[str]]],
        intervals: dict[str, list[tuple[int, int, str]]],
    ) -> None:
        name, list_type = data["name"], data["type"]
        kinds = {k for attr in data.get("matching_attributes", ()) for k in _KINDS_BY_ATTRIBUTE.get(attr, ())}
        entries = [e for e in data["list"] if isinstance(e, str) and e.strip()]
        if list_type == "cidr":
            for entry in entries:
                bounds = ip_range_bounds(entry)
                if bounds is not None:
                    lo, hi = bounds
                    intervals[lo[0]].append((int(lo[2:], 16), int(hi[2:], 16), name))
        elif list_type == "regex":
            for kind in kinds:
                self._regex[kind].extend((re.compile(e, re.IGNORECASE), name) for e in entries)
        elif list_type == "substring":
            # An address is never "part of" another one: for the ip kind a substring entry matches exactly.
            if "ip" in kinds:
                for key in {k for entry in entries if (k := _ip_entry(entry)) is not None}:
                    self._add_exact("ip", key, name)
            for kind in kinds - {"ip"}:
                for entry in entries:
                    substrings[kind][entry.strip().lower()].append(name)
        elif list_type == "hostname" and "domain" in kinds:
            for entry in entries:
                if (host := normalize_domain(entry.lstrip("."))) is not None:
                    suffix = self._suffix_table()
                    suffix[host] = (*suffix.get(host, ()), name)
        else:  # "string", and hostname lists that only apply to other kinds, match exactly
            hash_kinds = {kind for kind in kinds if kind.startswith("hash:")}
            if hash_kinds:
                for entry in {e.strip().lower() for e in entries}:
                    hash_kind = _HASH_KIND_BY_LENGTH.get(len(entry))
                    if hash_kind in hash_kinds:
                        self._add_exact(hash_kind, entry, name)
            for kind in kinds - hash_kinds:
                to_key = _ENTRY_KEYS.get(kind, _plain_entry)
                for key in {k for entry in entries if (k := to_key(entry)) is not None}:
                    self._add_exact(kind, key, name)

    def _add_exact(self, kind: str, key: str, name: str) -> None:
        table = self._exact[kind]
        prior = table.get(key)
        table[key] = (name,) if prior is None else (*prior, name)

    def list_names(self) -> tuple[str, ...]:
        """Names of the enabled lists."""
        return self._names

    def __getstate__(self) -> dict[str, Any]:
        """The matcher to pickle, each table pickled on its own, to be unpickled on the first lookup that needs it.

        Most inputs hold a few kinds of value (a small report: a URL and its host), so a process that loads a
        cached matcher unpickles only their tables; the hash lists (230,000 known files) are the largest.
        """
        state = dict(self.__dict__)
        packed = dict(self._packed)
        for kind, table in self._exact.items():
            packed[kind] = _dumps(table)
        sections = dict(self._sections)
        if self._suffix is not None:
            sections["suffix"] = _dumps(self._suffix)
        if self._ranges is not None:
            sections["ranges"] = _dumps(self._ranges)
        for kind, automaton in self._substr.items():
            sections[f"substr:{kind}"] = _dumps(automaton)
        state.update(_exact={}, _packed=packed, _sections=sections, _suffix=None, _ranges=None, _substr={})
        return state

    def _unpack(self, kind: str) -> dict[str, tuple[str, ...]] | None:
        """An exact table still pickled, unpickled now (threads racing here each unpickle it, and agree)."""
        blob = self._packed.get(kind)
        if blob is None:
            return self._exact.get(kind)
        table: dict[str, tuple[str, ...]] = pickle.loads(blob)  # noqa: S301 - from __getstate__ of this class
        self._exact[kind] = table
        self._packed.pop(kind, None)
        return table

    def _section(self, name: str) -> Any:
        """A table still pickled (see __getstate__), unpickled; None if there is none of that name."""
        blob = self._sections.get(name)
        return None if blob is None else pickle.loads(blob)  # noqa: S301 - from __getstate__ of this class

    def _suffix_table(self) -> dict[str, tuple[str, ...]]:
        if self._suffix is None:
            self._suffix = self._section("suffix") or {}
            self._sections.pop("suffix", None)
        return self._suffix

    def _range_tables(self) -> dict[str, _Ranges]:
        if self._ranges is None:
            self._ranges = self._section("ranges") or {"4": _Ranges([]), "6": _Ranges([])}
            self._sections.pop("ranges", None)
        return self._ranges

    def _automaton(self, kind: str) -> Any:
        automaton = self._substr.get(kind)
        if automaton is None and f"substr:{kind}" in self._sections:
            automaton = self._substr[kind] = self._section(f"substr:{kind}")
            self._sections.pop(f"substr:{kind}", None)
        return automaton

    def hits(self, kind: str, value: str, *, url_host: bool = True) -> list[str]:
        """Names of the enabled lists that hold `value` (a normalised index value of `kind`).

        `url_host=False` leaves a URL's host out (callers that check the host's own index row anyway).
        """
        found: list[str] = []
        exact = self._exact.get(kind)
        if exact is None and kind in self._packed:
            exact = self._unpack(kind)
        if exact is not None:
            names = exact.get(value)
            if names is not None:
                found += names
        if kind == "ip":
            found += self._ip_hits(value)
        elif kind == "domain":
            self._suffix_hits(value, found)
        elif kind == "url" and url_host:
            rows = url_rows(value)
            if len(rows) == 2:
                found += self.hits(rows[1].kind, rows[1].value)
        automaton = self._automaton(kind)
        if automaton is not None:
            for _, names in automaton.iter(value.lower() if kind == "url" else value):
                found += names
        regexes = self._regex.get(kind)
        if regexes is not None:
            found += [name for pattern, name in regexes if pattern.search(value)]
        return list(dict.fromkeys(found)) if len(found) > 1 else found

    def _suffix_hits(self, name: str, found: list[str]) -> None:
        suffix = self._suffix_table()
        while True:  # the name itself, then each parent: hostname lists match subdomains
            names = suffix.get(name)
            if names is not None:
                found += names
            dot = name.find(".")
            if dot < 0:
                return
            name = name[dot + 1 :]

    def _ip_hits(self, value: str) -> tuple[str, ...]:
        if "/" not in value:
            v6 = ":" in value
            family, ranges = (socket.AF_INET6, "6") if v6 else (socket.AF_INET, "4")
            try:
                return self._range_tables()[ranges].at(int.from_bytes(socket.inet_pton(family, value), "big"))
            except OSError:
                return ()
        bounds = ip_range_bounds(value)
        if bounds is None:
            return ()
        lo, hi = bounds
        return self._range_tables()[lo[0]].covering(int(lo[2:], 16), int(hi[2:], 16))


_CACHE_FORMAT = b"3"


def _sources() -> list[bytes]:
    """What a matcher's answers depend on besides its lists' names: the lists' package and this code."""
    parts = [importlib.metadata.version("pymispwarninglists").encode()]
    return parts + [Path(module).read_bytes() for module in (__file__, observables.__file__)]  # normalisation


def _fingerprint(names: tuple[str, ...]) -> int:
    """A 63-bit number naming what a matcher answers: its lists and their version, and the matching code (a
    store records it beside the matches it keeps: accord.correlate.indicator_values)."""
    digest = hashlib.blake2b(b"\x00".join([orjson.dumps(sorted(names)), *_sources()]), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _dumps(table: object) -> bytes:
    return pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL)


def _cache_file(enabled: tuple[str, ...] | None) -> Path:
    """Where a built matcher is kept: named by everything it is built from (lists, package, this code)."""
    return cache_path("warninglists", _CACHE_FORMAT, orjson.dumps(enabled), *_sources())


def _unpickle(data: bytes) -> WarninglistMatcher:
    found = pickle.loads(data)  # noqa: S301 - written by get_matcher into the node's own var/ folder
    if not isinstance(found, WarninglistMatcher):
        raise TypeError("not a warninglist matcher")
    return found


@lru_cache(maxsize=4)
def get_matcher(enabled: tuple[str, ...] | None = None) -> WarninglistMatcher:
    """A shared matcher for a set of enabled lists (None: the defaults).

    Building one reads every bundled list, which takes far longer than loading the built matcher, kept in
    var/cache: a CLI import or a new worker process does not pay for the build again. A missing, stale or
    unreadable cache file is simply rebuilt.
    """
    return load_or_build(
        _cache_file(enabled),
        lambda: WarninglistMatcher(enabled),
        lambda built: pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL),
        _unpickle,
    )


def active_names() -> tuple[str, ...] | None:
    """The configured active warninglists (settings.warninglists), None for the defaults."""
    names = tuple(sorted(n.strip() for n in get_settings().warninglists.split(",") if n.strip()))
    return names or None


def active_matcher() -> WarninglistMatcher:
    """The shared matcher of the configured active warninglists."""
    return get_matcher(active_names())
