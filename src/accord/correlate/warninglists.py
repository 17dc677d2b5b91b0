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
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property, lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any, cast

import ahocorasick
import orjson

from accord.core.cache import Sections, cache_path, load_or_build_sections
from accord.core.settings import get_settings
from accord.correlate import observables, packed
from accord.correlate.observables import ip_range_bounds, normalize_domain, url_host, url_rows

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
        self._exact: dict[str, packed.Table] = defaultdict(dict)
        self._suffix: packed.Table | None = {}
        self._regex: dict[str, list[tuple[re.Pattern[str], str]]] = defaultdict(list)
        substrings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        intervals: dict[str, list[tuple[int, int, str]]] = {"4": [], "6": []}
        for data in chosen:
            self._add_list(data, substrings, intervals)
        self._ranges: dict[str, _Ranges] | None = {family: _Ranges(found) for family, found in intervals.items()}
        self._substr: dict[str, Any] = {}
        # Kinds with a substring that holds a line break: their values are never searched joined (hits_many).
        self._substr_breaks = frozenset(kind for kind, words in substrings.items() if any("\n" in w for w in words))
        for kind, words in substrings.items():
            automaton = ahocorasick.Automaton()
            for word, names in words.items():
                automaton.add_word(word, tuple(names))
            automaton.make_automaton()
            self._substr[kind] = automaton
        # A matcher read from var/cache (from_sections) reads each table from there on its first use.
        self._store: Sections | None = None
        self._stored_exact: frozenset[str] = frozenset()
        self._stored_substr: frozenset[str] = frozenset()

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
                    suffix = cast("dict[str, tuple[str, ...]]", self._suffix)  # a dict while the matcher is built
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
        table = cast("dict[str, tuple[str, ...]]", self._exact[kind])  # a dict while the matcher is built
        prior = table.get(key)
        table[key] = (name,) if prior is None else (*prior, name)

    @cached_property
    def fingerprint(self) -> int:
        """What this matcher answers, as a number (its lists, their version, the matching code): a store keeps it
        beside the matches it records (accord.correlate.indicator_values). Computed on first use, so a matcher
        read from var/cache (from_sections) has it too."""
        return _fingerprint(self._names)

    def list_names(self) -> tuple[str, ...]:
        """Names of the enabled lists."""
        return self._names

    def to_sections(self) -> dict[str, bytes]:
        """The matcher as named sections for var/cache, each table apart so that a process reads only those its
        lookups need (a small report: a URL and its host, never the hash lists)."""
        self._load_all()
        meta = {"names": self._names, "regex": dict(self._regex), "substr_breaks": self._substr_breaks}
        sections = {"meta": packed.dumps(meta)}
        sections |= {f"exact:{kind}": packed.pack_table(packed.as_dict(table)) for kind, table in self._exact.items()}
        sections["suffix"] = packed.pack_table(packed.as_dict(self._suffix_table()))
        sections["ranges"] = packed.dumps(self._range_tables())
        sections |= {f"substr:{kind}": packed.dumps(automaton) for kind, automaton in self._substr.items()}
        return sections

    @classmethod
    def from_sections(cls, store: Sections) -> WarninglistMatcher:
        """A matcher over what to_sections stored; each table is read from the store on its first use."""
        meta = store.get("meta")
        if meta is None:
            raise ValueError("no warninglist matcher in these sections")
        state = pickle.loads(meta)  # noqa: S301 - written by to_sections into the node's own var/ folder
        self = cls.__new__(cls)
        self._names, self._regex, self._substr_breaks = state["names"], state["regex"], state["substr_breaks"]
        self._exact, self._suffix, self._ranges, self._substr = {}, None, None, {}
        names = store.names()
        self._store = store
        self._stored_exact = frozenset(name[6:] for name in names if name.startswith("exact:"))
        self._stored_substr = frozenset(name[7:] for name in names if name.startswith("substr:"))
        return self

    def __getstate__(self) -> dict[str, Any]:
        """A pickle holds every table (not the var/cache file they would be read from)."""
        self._load_all()
        return {**self.__dict__, "_store": None, "_stored_exact": frozenset(), "_stored_substr": frozenset()}

    def _load_all(self) -> None:
        for kind in self._stored_exact:
            self._exact_table(kind)
        for kind in self._stored_substr:
            self._automaton(kind)
        self._suffix_table()
        self._range_tables()

    def _stored(self, name: str) -> bytes | None:
        return None if self._store is None else self._store.get(name)

    # Threads racing in the loaders below each read the table and store equal copies: no lock is needed.

    def _exact_table(self, kind: str) -> packed.Table | None:
        table = self._exact.get(kind)
        if table is None and kind in self._stored_exact:
            table = self._exact[kind] = packed.PackedTable(self._stored(f"exact:{kind}"))
        return table

    def _suffix_table(self) -> packed.Table:
        if self._suffix is None:
            self._suffix = packed.PackedTable(self._stored("suffix"))
        return self._suffix

    def _range_tables(self) -> dict[str, _Ranges]:
        if self._ranges is None:
            blob = self._stored("ranges")
            # from to_sections of this class, in the node's own var/ folder
            self._ranges = pickle.loads(blob) if blob else {"4": _Ranges([]), "6": _Ranges([])}  # noqa: S301
        return self._ranges

    def _automaton(self, kind: str) -> Any:
        automaton = self._substr.get(kind)
        if automaton is None and kind in self._stored_substr:
            blob = self._stored(f"substr:{kind}")
            automaton = self._substr[kind] = pickle.loads(blob) if blob else None  # noqa: S301 - as above
        return automaton

    def hits(self, kind: str, value: str, *, url_host: bool = True) -> list[str]:
        """Names of the enabled lists that hold `value` (a normalised index value of `kind`).

        `url_host=False` leaves a URL's host out (callers that check the host's own index row anyway).
        """
        found: list[str] = []
        exact = self._exact.get(kind)
        if exact is None and kind in self._stored_exact:
            exact = self._exact_table(kind)
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

    def hits_many(self, pairs: Sequence[tuple[str, str]]) -> dict[int, list[str]]:
        """hits(kind, value) of the (kind, value) pairs that have any, by pair number: each table consulted in one
        pass over the values of its kind, which a report's tens of thousands of findings need (bench_extract.py,
        dense text)."""
        by_kind: dict[str, list[int]] = {}
        for number, (kind, _) in enumerate(pairs):
            by_kind.setdefault(kind, []).append(number)
        found = self.hits_by_kind({kind: [pairs[number][1] for number in numbers] for kind, numbers in by_kind.items()})
        return {by_kind[kind][i]: names for kind, hits in found.items() for i, names in hits.items()}

    def hits_by_kind(self, values: Mapping[str, Sequence[str]]) -> dict[str, dict[int, list[str]]]:
        """hits_many for values already grouped by kind: per kind, the hits of the values that have any, by value
        number within the kind (a caller that groups its values as it collects them skips a pass over pairs)."""
        result: dict[str, dict[int, list[str]]] = {}
        known: dict[str, tuple[set[str], dict[str, list[str]]]] = {}  # hosts looked up, for the URLs on them
        for kind in sorted(values, key=lambda kind: kind == "url"):  # hosts before URLs
            of_kind = values[kind]
            found = result[kind] = self._kind_hits(kind, of_kind, known)
            if kind != "url":
                known[kind] = (set(of_kind), {of_kind[i]: names for i, names in found.items()})
        return result

    def _kind_hits(
        self, kind: str, values: Sequence[str], known: dict[str, tuple[set[str], dict[str, list[str]]]]
    ) -> dict[int, list[str]]:
        """The hits of the values of one kind that have any, by value number."""
        if not values:
            return {}  # and no table read
        # Each source's hits by value number, merged in hits()' order: exact, then the kind's own source (address
        # ranges, hostname suffixes or the URL's host), then substrings and regular expressions.
        sources: list[Mapping[int, Sequence[str]]] = []
        exact = self._exact_table(kind)
        if exact is not None:
            get = packed.getter(exact, len(values))
            sources.append({i: names for i, value in enumerate(values) if (names := get(value)) is not None})
        if kind == "ip":
            sources.append(self._ip_hits_many(values))
        elif kind == "domain":
            sources.append(self._suffix_hits_many(values))
        elif kind == "url":
            sources.append(self._url_host_hits_many(values, known))
        automaton = self._automaton(kind)
        if automaton is not None:
            lowered = [value.lower() for value in values] if kind == "url" else values
            sources.append(_substring_hits(automaton, lowered, joinable=kind not in self._substr_breaks))
        regexes = self._regex.get(kind)
        if regexes:
            matched = (
                (i, [name for pattern, name in regexes if pattern.search(value)]) for i, value in enumerate(values)
            )
            sources.append({i: names for i, names in matched if names})
        merged: dict[int, list[str]] = {}
        for source in sources:
            for i, listed in source.items():
                merged.setdefault(i, []).extend(listed)
        return {i: list(dict.fromkeys(names)) if len(names) > 1 else names for i, names in merged.items()}

    def _ip_hits_many(self, values: Sequence[str]) -> dict[int, Sequence[str]]:
        tables = self._range_tables()
        # The loop's look-ups bound to locals: a dense report has ten thousand addresses (bench_extract.py).
        by_family = {False: (socket.AF_INET, tables["4"].starts, tables["4"].names)}
        by_family[True] = (socket.AF_INET6, tables["6"].starts, tables["6"].names)
        pton, from_bytes = socket.inet_pton, int.from_bytes
        found: dict[int, Sequence[str]] = {}
        for i, value in enumerate(values):
            if "/" in value:
                if names := self._ip_hits(value):
                    found[i] = names
                continue
            family, starts, segment_names = by_family[":" in value]
            try:
                at = bisect_right(starts, from_bytes(pton(family, value), "big")) - 1
            except OSError:
                continue
            if at >= 0 and (names := segment_names[at]):
                found[i] = names
        return found

    def _suffix_hits_many(self, values: Sequence[str]) -> dict[int, Sequence[str]]:
        get = packed.getter(self._suffix_table(), len(values))
        found: dict[int, Sequence[str]] = {}
        for i, value in enumerate(values):
            names: list[str] = []
            name, dot = value, 0
            while dot >= 0:  # the name itself, then each parent, as _suffix_hits
                listed = get(name)
                if listed is not None:
                    names += listed
                dot = name.find(".")
                name = name[dot + 1 :]
            if names:
                found[i] = names
        return found

    def _url_host_hits_many(
        self, values: Sequence[str], known: dict[str, tuple[set[str], dict[str, list[str]]]]
    ) -> dict[int, Sequence[str]]:
        hosts: dict[str, dict[str, list[int]]] = {"domain": {}, "ip": {}}  # kind -> host -> value numbers
        for i, value in enumerate(values):
            found_host = url_host(value)
            if found_host is not None:
                hosts[found_host[0]].setdefault(found_host[1], []).append(i)
        found: dict[int, Sequence[str]] = {}
        for kind, numbers in hosts.items():
            looked_up, listed = known.get(kind, (set(), {}))
            unseen = [host for host in numbers if host not in looked_up]  # most hosts are findings of their own too
            listed = {**listed, **{unseen[i]: names for i, names in self._kind_hits(kind, unseen, known).items()}}
            for host, at in numbers.items():
                if names := listed.get(host):
                    found.update(dict.fromkeys(at, names))
        return found

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


_CACHE_FORMAT = b"4"


def _substring_hits(automaton: Any, values: Sequence[str], *, joinable: bool) -> dict[int, list[str]]:
    """The names of the substrings found in each value, by value number, as automaton.iter(value) finds them."""
    found: dict[int, list[str]] = {}
    # One search over the values joined by line breaks: when no word holds a break (joinable), a break takes the
    # automaton back to its root, so each value is searched as if alone. Otherwise (or when a value holds a
    # break) one search each.
    joined = "\n".join(values)
    if not joinable or joined.count("\n") != len(values) - 1:
        for i, value in enumerate(values):
            names = [name for _, listed in automaton.iter(value) for name in listed]
            if names:
                found[i] = names
        return found
    starts = list(accumulate((len(value) + 1 for value in values[:-1]), initial=0))
    for end, listed in automaton.iter(joined):
        found.setdefault(bisect_right(starts, end) - 1, []).extend(listed)
    return found


def _sources() -> list[bytes]:
    """What a matcher's answers depend on besides its lists' names: the lists' package and this code."""
    parts = [importlib.metadata.version("pymispwarninglists").encode()]
    return parts + [
        Path(module).read_bytes() for module in (__file__, observables.__file__, packed.__file__)
    ]  # normalisation


def _fingerprint(names: tuple[str, ...]) -> int:
    """A 63-bit number naming what a matcher answers: its lists and their version, and the matching code (a
    store records it beside the matches it keeps: accord.correlate.indicator_values)."""
    digest = hashlib.blake2b(b"\x00".join([orjson.dumps(sorted(names)), *_sources()]), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _cache_file(enabled: tuple[str, ...] | None) -> Path:
    """Where a built matcher is kept: named by everything it is built from (lists, package, this code)."""
    return cache_path("warninglists", _CACHE_FORMAT, orjson.dumps(enabled), *_sources())


@lru_cache(maxsize=4)
def get_matcher(enabled: tuple[str, ...] | None = None) -> WarninglistMatcher:
    """A shared matcher for a set of enabled lists (None: the defaults).

    Building one reads every bundled list, which takes far longer than loading the built matcher, kept in
    var/cache: a CLI import or a new worker process does not pay for the build again, and reads only the tables
    its lookups need. A missing, stale or damaged cache file is simply rebuilt.
    """
    store = load_or_build_sections(_cache_file(enabled), lambda: WarninglistMatcher(enabled).to_sections())
    return WarninglistMatcher.from_sections(store)


def active_names() -> tuple[str, ...] | None:
    """The configured active warninglists (settings.warninglists), None for the defaults."""
    names = tuple(sorted(n.strip() for n in get_settings().warninglists.split(",") if n.strip()))
    return names or None


def active_matcher() -> WarninglistMatcher:
    """The shared matcher of the configured active warninglists."""
    return get_matcher(active_names())
