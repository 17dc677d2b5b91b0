"""One-regex recogniser for the overwhelmingly common pattern shape: one observation of string comparisons.

It handles `[type:path op 'literal']`, `IN ('a', 'b')` lists and AND/OR chains of those inside one
bracket, and applies the same semantic checks as the full fast path (keywords, key rules, hash
values). It accepts a subset of what `fast_comparisons` accepts and returns the same comparisons;
for anything else it returns None and the caller runs the tokenizer and parser.
"""

from __future__ import annotations

import re

from accord.stix._pattern_fast import _HASH_RULES, KEYWORDS, PatternComparison, unescape_string

__all__ = ["is_simple_valid", "simple_comparisons"]

_WS = r"[ \t\r\n]*"
_STR = r"'[^'\\]*(?:\\['\\][^'\\]*)*'"
# Keys as the full parser takes them: identifiers without '-', or quoted without backslashes.
_KEY = r"(?:[A-Za-z_][A-Za-z0-9_]*|'[^'\\]*')"
# One comparison, then either the closing bracket (end of pattern) or AND/OR before the next one.
# Keyword operators need whitespace around them: the tokenizer reads "LIKE'x'" differently.
_COMPARISON_RE = re.compile(
    rf"{_WS}(?P<type>[A-Za-z_][A-Za-z0-9_-]*):(?P<path>{_KEY}(?:\.{_KEY})*)"
    rf"(?:{_WS}(?P<op>==|!=|<>|<=|>=|=|<|>){_WS}(?P<lit>{_STR})"
    rf"|[ \t\r\n]+(?P<kw>LIKE|MATCHES|ISSUBSET|ISSUPERSET)[ \t\r\n]+(?P<kwlit>{_STR})"
    rf"|[ \t\r\n]+IN{_WS}\((?P<set>{_WS}(?:{_STR}{_WS}(?:,{_WS}{_STR}{_WS})*)?)\))"
    rf"{_WS}(?:(?P<end>\]{_WS}\Z)|(?P<join>AND|OR)(?=[ \t\r\n]))"
)
_STR_RE = re.compile(_STR)
_KEY_RE = re.compile(_KEY)
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


_PATH_CACHE_SIZE = 4096


def _decode(raw: str) -> str:
    inner = raw[1:-1]
    return unescape_string(raw) if "\\" in inner else inner


def _path_info(path_text: str) -> tuple[str, re.Pattern[str] | None] | None:
    """The decoded path and the hash-value rule it is subject to; None if the full parser would refuse it."""
    keys = _KEY_RE.findall(path_text) if "'" in path_text else path_text.split(".")
    # Keywords are never names, but quoted keys may spell anything.
    if not KEYWORDS.isdisjoint(keys):
        return None
    parts = [k[1:-1] if k[0] == "'" else k for k in keys]
    rule = None
    if "hashes" in parts:
        # The same selector normalisation as stix2patterns.v21.object_validator.
        rule = _HASH_RULES.get(parts[-1].upper().replace("-", "").replace("'", ""))
    return ".".join(parts), rule


# Paths repeat endlessly ("value", "hashes.'SHA-256'"): decode each once, within a fixed budget.
_PATHS: dict[str, tuple[str, re.Pattern[str] | None] | None] = {}


def simple_comparisons(pattern: str) -> list[PatternComparison] | None:
    """The comparisons of a single-observation string-comparison pattern, or None if not that shape."""
    comparisons: list[PatternComparison] = []
    return comparisons if _recognise(pattern, comparisons) else None


def is_simple_valid(pattern: str) -> bool:
    """True if pattern has the simple shape and passes every check (False says nothing either way)."""
    return _recognise(pattern, None)


def _recognise(pattern: str, comparisons: list[PatternComparison] | None) -> bool:
    """Recognise pattern; decode its comparisons into `comparisons` unless that is None."""
    if pattern[:1] == "[":
        pos = 1
    else:
        pos = pattern.find("[") + 1
        if not pos or pattern[: pos - 1].strip(" \t\r\n"):
            return False
    match = _COMPARISON_RE.match
    while True:
        m = match(pattern, pos)
        if m is None:
            return False
        obj_type, path_text, op, raw, kw = m.group("type", "path", "op", "lit", "kw")
        if obj_type in KEYWORDS:
            return False
        try:
            info = _PATHS[path_text]
        except KeyError:
            info = _path_info(path_text)
            if len(_PATHS) < _PATH_CACHE_SIZE:
                _PATHS[path_text] = info
        if info is None:
            return False
        path, rule = info
        if op is not None:
            operator = _OPS[op]
        elif kw is not None:
            operator, raw = kw, m["kwlit"]
        else:
            operator = "IN"
        # stix2-patterns checks hash values on the raw literal text, quotes removed; never in a set.
        if rule is not None and (operator == "IN" or rule.match(raw.replace("'", "")) is None):
            return False
        if comparisons is not None:
            value = [_decode(lit) for lit in _STR_RE.findall(m["set"])] if operator == "IN" else _decode(raw)
            comparisons.append(PatternComparison(obj_type, path, operator, value, False))
        if m["end"] is not None:
            return True
        pos = m.end()
