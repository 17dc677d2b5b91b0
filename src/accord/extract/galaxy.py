"""Threat-actor, malware, tool and ATT&CK technique names from pymispgalaxies' bundled clusters.

Matching policy (precision first): aliases shorter than 4 characters, plain English or technology words
("Empire", "Agent", "Python"), file names ("cmd.exe") and people's or places' names used as synonyms ("James")
are skipped. A name matches as a galaxy spells it, or in Title or UPPER case, never lower-cased ("zlib" in code
is not ZLib); a word that is a name only by its casing ("BloodHound") matches only so spelled; a primary name
that is also a person's or place's name ("Cuba") needs a cue word after it ("Cuba ransomware"). Technique names
need at least two words and their ATT&CK capitalisation. Matches must sit on word boundaries, outside paths,
file names and hosts.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import overload

import ahocorasick
import orjson

from accord.core.cache import cache_path, load_or_build
from accord.extract.patterns import FILE_EXTENSIONS

_MIN_ALIAS = 4
# From this many bytes on, the DFA's faster scan repays its longer build in a process that scans several texts (a
# server, a benchmark). The DFA builds in about 0.056 s CPU, holding the GIL, the NFA in 0.011 s, and the DFA scans
# about 5.8 ms/MB faster: a process that scans one text only (`accord extract`, see one_text_process) spends less
# with the NFA up to about _ONE_TEXT_DFA_MIN bytes (bench_extract.py's 5 MB texts, one per process: engine CPU 5-9 %
# lower).
_DFA_MIN = 1_000_000
_ONE_TEXT_DFA_MIN = 8_000_000
_one_text = False
# Below this many bytes a dictionary of alias prefixes, tried at every position, answers without an automaton
# to import and build (bench_extract_startup.py).
_AUTOMATON_MIN = 8192
# Format and system names that some galaxies list as aliases ("GIF89a" for APT1, "systemd", "ext4").
_NEVER = frozenset({"gif89a", "gif87a", "ext4", "systemd", "mailto", "chromium"})
_NEXT_WORD = re.compile(r"[ \t]{1,3}([A-Za-z]+)")
# "APT28 - G0007" (MITRE's id suffix) and "LockBit (Windows)" (Malpedia's platform suffix) name one family.
_MITRE_SUFFIX = re.compile(r" - [GSTM]\d{4}(?:\.\d{3})?$| \((?:Windows|ELF|OS X|macOS|Android|iOS|Linux)\)$")
# (cluster file, finding type), earlier files win when two clusters claim the same alias.
_SOURCES = (
    ("threat-actor", "threat-actor"),
    ("mitre-intrusion-set", "threat-actor"),
    ("mitre-tool", "tool"),
    ("malpedia", "malware"),
    ("mitre-malware", "malware"),
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One alias: the finding it produces and, for ordinary-word phrases, the only spellings that count."""

    type: str
    canonical: str
    alias: str
    forms: frozenset[str]
    needs_cue: bool = False


def _clusters_dir() -> Path:
    # Located without importing pymispgalaxies, whose import alone takes seconds.
    spec = importlib.util.find_spec("pymispgalaxies")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pymispgalaxies is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "misp-galaxy" / "clusters"


_WORD_LISTS = ("common_words.txt", "proper_names.txt")


def _word_list(name: str) -> frozenset[str]:
    text = resources.files("accord.extract").joinpath(name).read_text("utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@functools.cache
def common_words() -> frozenset[str]:
    """Lower-case English words and technology names that must never match as a bare alias."""
    return _word_list("common_words.txt")


@functools.cache
def proper_names() -> frozenset[str]:
    """One-word aliases that are also people's or places' names."""
    return _word_list("proper_names.txt")


# A name that is also a person's or place's name counts only right before one of these ("Cuba ransomware").
CUE_WORDS = frozenset(
    """ransomware malware rat trojan backdoor loader stealer infostealer botnet banker spyware wiper worm implant
    family variant variants sample samples group apt actor operators campaign dropper downloader keylogger
    rootkit miner locker payload payloads""".split()  # noqa: SIM905 - a word list reads better as text
)


def _alias_policy(alias: str, primary: bool) -> str | None:
    """How an alias may match: None (never), "exact" (as spelled, Title or UPPER case), "cased" (only as
    spelled) or "cue" (exact, and only before a cue word)."""
    if len(alias) < _MIN_ALIAS or not any(c.isalpha() for c in alias):
        return None
    if "." in alias and alias.rsplit(".", 1)[1].lower() in FILE_EXTENSIONS:
        return None  # "cmd.exe" is a file name, found as one
    tokens = re.findall(r"[A-Za-z0-9]+", alias)
    if len(tokens) != 1:
        return "exact"  # phrases ("Fancy Bear", "Cobalt Strike") are specific enough when written as names
    key = tokens[0].lower()
    if key in common_words():
        # "BloodHound" or "CARROTBALL" are names by their casing; "Empire" or "Agent" are just words.
        distinctive = any(c.isupper() for c in alias[1:]) and not alias.istitle()
        return "cased" if distinctive and len(alias) >= 5 and key not in _NEVER else None
    if key in proper_names():
        return "cue" if primary else None
    return "exact"


def _load(name: str) -> list[dict[str, object]]:
    return orjson.loads((_clusters_dir() / f"{name}.json").read_bytes())["values"]  # type: ignore[no-any-return]


def _entries() -> list[Entry]:
    clusters: list[tuple[str, str, list[str]]] = []
    for source, kind in _SOURCES:
        for value in _load(source):
            meta = value.get("meta") or {}
            synonyms = meta.get("synonyms", []) if isinstance(meta, dict) else []
            names = list(dict.fromkeys(_MITRE_SUFFIX.sub("", str(n)) for n in [value["value"], *synonyms]))
            clusters.append((kind, names[0], names))
    # Primary names first, so "Lazarus Group" stays itself even where another cluster lists it as a synonym.
    owner: dict[str, tuple[str, str]] = {}
    for kind, primary, _names in clusters:
        owner.setdefault(primary.lower(), (kind, primary))
    for kind, primary, names in clusters:
        # A cluster that an earlier cluster already names (MITRE after MISP) adopts the earlier name.
        target = owner.get(primary.lower(), (kind, primary))
        for alias in names[1:]:
            owner.setdefault(alias.lower(), target)
    # Names match as the galaxies spell them, or in Title or UPPER case: a lower-case "zlib" or "wildcard" in
    # prose or code is rarely the malware of that name, while reports capitalise the families they discuss.
    spellings: dict[str, set[str]] = {}
    policies: dict[str, str] = {}
    for _kind, primary, names in clusters:
        for alias in names:
            key = alias.lower()
            policy = _alias_policy(alias, alias == primary)
            if policy is None or policies.get(key, policy) != policy:
                continue
            policies[key] = policy
            # A word that is a name only by its casing ("CALENDAR", "BloodHound") keeps exactly that casing.
            spellings.setdefault(key, set()).update(
                {alias} if policy == "cased" else {alias, alias.title(), alias.upper()}
            )
    entries = []
    for key, forms in spellings.items():
        kind, canonical = owner[key]
        entries.append(Entry(kind, canonical, key, frozenset(forms), policies[key] == "cue"))
    entries.extend(_technique_entries(set(owner)))
    return entries


def _technique_entries(taken: set[str]) -> list[Entry]:
    entries = []
    for value in _load("mitre-attack-pattern"):
        meta = value.get("meta") or {}
        ext = meta.get("external_id") if isinstance(meta, dict) else None
        if not isinstance(ext, str) or not ext.startswith("T"):
            continue
        name = _MITRE_SUFFIX.sub("", str(value["value"]))
        # Single-word technique names ("PowerShell", "Phishing") are too often plain vocabulary.
        if " " not in name or name.lower() in taken or len(name) < 8:
            continue
        taken.add(name.lower())
        entries.append(Entry("attack-technique", ext, name.lower(), frozenset({name, name.upper()})))
    return entries


class _Matcher:
    """Leftmost-longest alias search over lower-cased ASCII text.

    pyahocorasick scans about 20 MB/s; the Rust automaton (ahocorasick-rs, when installed) about 130 MB/s
    and it releases the GIL, so the engine can run it beside the regex scans.
    """

    def __init__(self, entries: list[Entry], *, prefer_rust: bool = True, dfa: bool = True) -> None:
        self.entries = entries
        keys = [e.alias.encode("ascii", "replace") for e in entries]
        try:
            if not prefer_rust:
                raise ImportError("pyahocorasick requested")
            import ahocorasick_rs
        except ImportError:
            self._rs = None
            self._py = ahocorasick.Automaton()
            for index, key in enumerate(keys):
                self._py.add_word(key.decode("ascii"), index)
            self._py.make_automaton()
        else:
            self._rs = ahocorasick_rs.BytesAhoCorasick(
                keys,
                matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                implementation=ahocorasick_rs.Implementation.DFA
                if dfa
                else ahocorasick_rs.Implementation.ContiguousNFA,
            )

    def find(self, lowered: bytes) -> list[tuple[int, int, int]]:
        """(entry index, start, end) of every leftmost-longest match."""
        if self._rs is not None:
            return self._rs.find_matches_as_indexes(lowered)
        text = lowered.decode("ascii")
        return [
            (index, last + 1 - len(self.entries[index].alias), last + 1) for last, index in self._py.iter_long(text)
        ]


class _PrefixMatcher:
    """Leftmost-longest alias search by a dictionary of every alias's first _MIN_ALIAS bytes, for short texts."""

    def __init__(self, entries: Sequence[Entry], by_prefix: dict[bytes, list[tuple[bytes, int]]]) -> None:
        self.entries = entries
        self._by_prefix = by_prefix

    def find(self, lowered: bytes) -> list[tuple[int, int, int]]:
        """(entry index, start, end) of every leftmost-longest match."""
        by_prefix = self._by_prefix
        found = []
        pos, last = 0, len(lowered) - _MIN_ALIAS
        while pos <= last:
            candidates = by_prefix.get(lowered[pos : pos + _MIN_ALIAS])
            if candidates is not None:
                for key, index in candidates:
                    if lowered.startswith(key, pos):
                        found.append((index, pos, pos + len(key)))
                        pos += len(key)
                        break
                else:
                    pos += 1
            else:
                pos += 1
        return found


def _by_prefix(aliases: list[str]) -> dict[bytes, list[tuple[bytes, int]]]:
    """The aliases' numbers by their first _MIN_ALIAS bytes, longest alias first (the first found is the longest)."""
    by_prefix: dict[bytes, dict[bytes, int]] = {}
    for index, alias in enumerate(aliases):
        key = alias.encode("ascii", "replace")
        by_prefix.setdefault(key[:_MIN_ALIAS], {}).setdefault(key, index)  # the first entry of an alias wins
    return {prefix: sorted(keys.items(), key=lambda item: -len(item[0])) for prefix, keys in by_prefix.items()}


_Row = tuple[str, str, str, tuple[str, ...], bool]  # an Entry's fields, forms as a sorted tuple


def _entry(row: _Row) -> Entry:
    kind, canonical, alias, forms, cue = row
    return Entry(kind, canonical, alias, frozenset(forms), cue)


class _LazyEntries(Sequence[Entry]):
    """The entries of rows, each made when first read: a short text's few matches need only theirs."""

    def __init__(self, rows: list[_Row]) -> None:
        self._rows = rows
        self._made: dict[int, Entry] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> list[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        entry = self._made.get(index)
        if entry is None:
            entry = self._made[index] = _entry(self._rows[index])
        return entry


_CACHE_FORMAT = b"2"


def _cache_file() -> Path:
    """Where the entries are kept: named by everything they are built from (clusters, word lists, this code)."""
    parts = [_CACHE_FORMAT, importlib.metadata.version("pymispgalaxies").encode(), Path(__file__).read_bytes()]
    parts += [resources.files("accord.extract").joinpath(name).read_bytes() for name in _WORD_LISTS]
    parts.append(" ".join(sorted(FILE_EXTENSIONS)).encode())
    return cache_path("galaxy-entries", *parts)


_Cached = tuple[list[_Row], dict[bytes, list[tuple[bytes, int]]]]


def _build_cached() -> _Cached:
    rows = [(e.type, e.canonical, e.alias, tuple(sorted(e.forms)), e.needs_cue) for e in _entries()]
    return rows, _by_prefix([row[2] for row in rows])


def _dump_cached(cached: _Cached) -> bytes:
    return pickle.dumps(cached, protocol=pickle.HIGHEST_PROTOCOL)


def _load_cached(data: bytes) -> _Cached:
    rows, by_prefix = pickle.loads(data)  # noqa: S301 - written by _dump_cached into the node's own var/ folder
    return rows, by_prefix


@functools.cache
def _cached() -> _Cached:
    """The entries as rows, and the short-text matcher's prefix table: read from var/cache, or built from the
    bundled clusters (and cached) when stale. Both are kept, not rebuilt, so that a short report's process makes
    no Entry it does not find (bench_extract_startup.py)."""
    return load_or_build(_cache_file(), _build_cached, _dump_cached, _load_cached)


@functools.cache
def entries() -> list[Entry]:
    """Every alias entry."""
    return [_entry(row) for row in _cached()[0]]


@functools.cache
def matcher() -> _Matcher:
    """The alias matcher for long texts (a DFA: the fastest scan), built once per process."""
    return _Matcher(entries())


@functools.cache
def quick_matcher() -> _Matcher:
    """The alias matcher for short texts: an NFA, which scans at about half the DFA's speed but builds in a
    fifth of its time, so a process that reads one short report starts sooner (bench_extract_startup.py)."""
    return _Matcher(entries(), dfa=False)


@functools.cache
def prefix_matcher() -> _PrefixMatcher:
    """The alias matcher for texts under _AUTOMATON_MIN bytes."""
    rows, by_prefix = _cached()
    return _PrefixMatcher(_LazyEntries(rows), by_prefix)


def _next_word(text: str, end: int) -> str:
    m = _NEXT_WORD.match(text, end)
    return m.group(1).lower() if m else ""


def one_text_process() -> None:
    """Declare that this process scans a single text and then exits (`accord extract`): its matcher is chosen for
    the cheapest single scan, not to be kept for later texts."""
    global _one_text
    _one_text = True


def _matcher_for(size: int) -> _Matcher | _PrefixMatcher:
    """The matcher that scans a text of size bytes at the least cost for this process."""
    if size < _AUTOMATON_MIN:
        return prefix_matcher()
    if size < (_ONE_TEXT_DFA_MIN if _one_text else _DFA_MIN):
        return quick_matcher()
    return matcher()


def find_names(text: str, lowered: bytes, m: _Matcher | _PrefixMatcher | None = None) -> list[tuple[int, int, Entry]]:
    """(start, end, entry) for every alias found on word boundaries; lowered is text as lower-case ASCII."""
    if m is None:
        size = len(lowered)
        m = _matcher_for(size)
    n = len(text)
    found = []
    for index, start, end in m.find(lowered):
        entry = m.entries[index]
        # A name inside a path, file name or host ("/tmp/kinsing.sh", "emotet-loader") is not a mention.
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_/\\.-@"):
            continue
        if end < n and (
            text[end].isalnum() or text[end] == "_" or (text[end] in ".-/\\@" and text[end + 1 : end + 2].isalnum())
        ):
            continue
        if text[start:end] not in entry.forms:
            continue
        if entry.needs_cue and _next_word(text, end) not in CUE_WORDS:
            continue
        found.append((start, end, entry))
    return found


@functools.cache
def technique_names() -> dict[str, str]:
    """ATT&CK technique id -> name, from the bundled mitre-attack-pattern cluster."""
    names: dict[str, str] = {}
    for value in _load("mitre-attack-pattern"):
        meta = value.get("meta") or {}
        ext = meta.get("external_id") if isinstance(meta, dict) else None
        if isinstance(ext, str) and ext.startswith("T"):
            names.setdefault(ext, _MITRE_SUFFIX.sub("", str(value["value"])))
    return names
