"""Pattern comparisons for the value index: object paths mapped to index kinds.

Comparisons come from :func:`accord.stix.patterns.iter_comparisons`, except for the commonest shape
(one observation of plain comparisons joined by AND/OR), which a narrow regex reads much faster
(bench/bench_import.py indexes such patterns). That reader does not validate: patterns are validated on
ingest before they are indexed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from accord.correlate.observables import hash_kind
from accord.stix.patterns import iter_comparisons


class Comparison(NamedTuple):
    """One comparison of a STIX pattern with its literal decoded (a list for IN)."""

    object_type: str
    path: Any  # a sequence of steps, or the dotted text of the path
    operator: str
    value: Any
    negated: bool


_STAR = "*"
_new = tuple.__new__  # builds a Comparison without NamedTuple's argument handling (hot path)
_PATH_TOKEN = re.compile(r"'((?:[^'\\]|\\.)*)'|\[(\*|\d+)\]|([^.\[\]']+)")
_UNESCAPE = re.compile(r"\\(.)")

# Most feed indicators are one observation of plain comparisons joined by AND/OR (see the module docstring).
# Unrolled string-literal loops ([^'\\]* runs between escapes): far faster in `re` than per-char alternation.
_QUOTED = r"'[^'\\]*(?:\\.[^'\\]*)*'"
_SIMPLE_COMP = re.compile(
    rf"\s*([a-z0-9-]+):((?:[A-Za-z0-9_-]+|{_QUOTED})(?:\.(?:[A-Za-z0-9_-]+|{_QUOTED}))*)"
    rf"\s*(NOT\s+)?(=|!=|ISSUBSET|ISSUPERSET|LIKE|MATCHES)\s*(?:'([^'\\]*(?:\\.[^'\\]*)*)'|(-?\d+))\s*"
)
_SIMPLE_JOIN = re.compile(r"(?:AND|OR)(?=\s)")
# The commonest shape of all, one equality on a plain path, in a single cheap match.
_SINGLE_EQ = re.compile(r"\[\s*([a-z0-9-]+):([A-Za-z0-9_-]+(?:\.(?:[A-Za-z0-9_-]+|'[^'\\]*'))*)\s*=\s*'([^'\\]*)'\s*\]")

# (object type, path steps lower-cased with list indexes removed) -> index kind. "hash:" takes the algorithm
# from the last step; "ip-or-domain" decides from the value (network-traffic refs point at either).
_PATH_KINDS: dict[tuple[str, tuple[str, ...]], str] = {
    ("ipv4-addr", ("value",)): "ip",
    ("ipv6-addr", ("value",)): "ip",
    ("domain-name", ("value",)): "domain",
    ("domain-name", ("resolves_to_refs", "value")): "ip-or-domain",
    ("url", ("value",)): "url",
    ("email-addr", ("value",)): "email",
    ("email-message", ("from_ref", "value")): "email",
    ("email-message", ("sender_ref", "value")): "email",
    ("email-message", ("to_refs", "value")): "email",
    ("email-message", ("cc_refs", "value")): "email",
    ("email-message", ("bcc_refs", "value")): "email",
    ("file", ("name",)): "file-name",
    ("process", ("image_ref", "name")): "file-name",
    ("mutex", ("name",)): "mutex",
    ("windows-registry-key", ("key",)): "registry-key",
    ("autonomous-system", ("number",)): "asn",
    ("x509-certificate", ("serial_number",)): "x509-serial",
    ("network-traffic", ("dst_ref", "value")): "ip-or-domain",
    ("network-traffic", ("src_ref", "value")): "ip-or-domain",
    ("network-traffic", ("extensions", "http-request-ext", "request_header", "user-agent")): "user-agent",
}
_HASHED_TYPES = frozenset({"file", "artifact", "x509-certificate"})


def _steps(path: Any) -> tuple[str, ...]:
    if isinstance(path, str):
        return tuple(
            _UNESCAPE.sub(r"\1", quoted) if quoted else bare
            for quoted, index, bare in _PATH_TOKEN.findall(path)
            if not index
        )
    if isinstance(path, Sequence):
        # stix2patterns marks [*] with a sentinel object and [n] with an int: neither names a property.
        return tuple(step for step in path if isinstance(step, str) and step != _STAR)
    return ()


@lru_cache(maxsize=1024)
def _kind_for_steps(object_type: str, steps: tuple[str, ...]) -> str | None:
    lowered = tuple(step.lower() for step in steps)
    if object_type in _HASHED_TYPES and len(steps) == 2 and lowered[0] == "hashes":
        return hash_kind(steps[1])
    return _PATH_KINDS.get((object_type, lowered))


def kind_for_path(object_type: str, path: Any) -> str | None:
    """Index kind of an object path (file + hashes.'SHA-256' -> 'hash:sha256'); None if not indexed."""
    if isinstance(path, str):
        return _kind_for_text(object_type, path)
    return _kind_for_steps(object_type, _steps(path))


@lru_cache(maxsize=4096)
def _kind_for_text(object_type: str, path: str) -> str | None:
    return _kind_for_steps(object_type, _steps(path))


def _simple(pattern: str) -> list[Comparison] | None:
    """Comparisons of a one-observation pattern of plain comparisons, or None when it is anything more."""
    # A failed single match costs as much as a good one: try it only when no joiner is in sight.
    single = _SINGLE_EQ.fullmatch(pattern) if " AND " not in pattern and " OR " not in pattern else None
    if single is not None:
        object_type, path, value = single.groups()
        return [_new(Comparison, (object_type, path, "=", value, False))]
    text = pattern.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    end = len(text) - 1
    pos = 1
    out = []
    while True:
        m = _SIMPLE_COMP.match(text, pos, end)
        if m is None:
            return None
        object_type, path, negated, operator, quoted, number = m.groups()
        value = number if number is not None else quoted
        if "\\" in value:
            value = _UNESCAPE.sub(r"\1", value)
        out.append(Comparison(object_type, path, operator, value, bool(negated)))
        pos = m.end()
        if pos == end:
            return out
        join = _SIMPLE_JOIN.match(text, pos, end)
        if join is None:
            return None
        pos = join.end()


def comparisons(pattern: str) -> list[Any]:
    """Comparisons of a STIX pattern; [] when the pattern does not parse (validation rejects it elsewhere)."""
    simple = _simple(pattern)
    if simple is not None:
        return simple
    try:
        return iter_comparisons(pattern)
    except ValueError:
        return []
