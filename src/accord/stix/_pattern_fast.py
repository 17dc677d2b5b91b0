"""Fast recogniser for the common shapes of STIX 2.1 patterns.

It returns the comparisons of a pattern it can prove valid, and None for anything else (the
caller then asks stix2-patterns). It must never accept what stix2-patterns rejects, so it is
stricter than the grammar: ASCII whitespace only, no comments, no negative index steps, no
leap seconds or impossible dates, no duplicate qualifiers, and hash values checked as
stix2-patterns checks them.
"""

from __future__ import annotations

import base64
import re
from typing import Any, NamedTuple

from stix2patterns.v21.object_validator import HASHES_REGEX

from accord.stix.timestamps import normalize_timestamp, parse_timestamp

__all__ = ["PatternComparison", "decode_literal", "fast_comparisons", "unescape_string"]


class PatternComparison(NamedTuple):
    """One comparison expression of a pattern, with its literal value decoded."""

    object_type: str
    path: str
    operator: str
    value: Any
    negated: bool


# The grammar's keywords (STIX 2.1 patterning), never taken as names. They are written out rather than read from
# stix2-patterns' generated parser, whose ANTLR runtime is slow to import: every process would pay for it,
# though only patterns outside these fast paths need it. A test checks them against the parser's literal names.
KEYWORDS = frozenset(
    {
        *("AND", "OR", "NOT", "FOLLOWEDBY", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"),
        *("LAST", "SECONDS", "START", "STOP", "WITHIN", "REPEATS", "TIMES", "true", "false"),
    }
)

_B64 = "[A-Za-z0-9+/]"
_TOKEN_RE = re.compile(
    r"[ \t\r\n]*(?:"
    r"(?P<TS>t'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z')"
    r"|(?P<HEX>h'(?:[0-9a-fA-F]{2})*')"
    rf"|(?P<BIN>b'(?:{_B64}{{4}})*(?:{_B64}{{4}}|{_B64}{{3}}=|{_B64}{{2}}==)')"
    r"|(?P<STR>'(?:[^'\\]|\\['\\])*')"
    r"|(?P<NUM>[+-]?(?:[0-9]*\.[0-9]+|0|[1-9][0-9]*))(?![\w.'+-])"
    r"|(?P<ID>[A-Za-z_][A-Za-z0-9_-]*)(?!['\w])"
    r"|(?P<OP>==|!=|<>|<=|>=|=|<|>)"
    r"|(?P<P>[\[\]():.,*])"
    r")"
)
_TRAILING_WS = re.compile(r"[ \t\r\n]*\Z")
_UNESCAPE_RE = re.compile(r"\\(['\\])")
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_STRING_OPS = frozenset({"LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"})
_MAX_DEPTH = 40


# Compiled once; matched exactly as stix2patterns.v21.object_validator matches them (re.match).
_HASH_RULES = {name: re.compile(rule[0]) for name, rule in HASHES_REGEX.items()}


class _RejectError(Exception):
    """The fast path cannot prove the pattern valid."""


def _check_hash(selector: str | int | None, operator: str, raw: str) -> None:
    """Apply stix2-patterns' hash-value rule to the raw literal of a comparison on a hashes path."""
    if selector is None:
        return
    if isinstance(selector, int):
        raise _RejectError  # stix2-patterns fails on an index step ending a hashes path
    rule = _HASH_RULES.get(selector.upper().replace("-", "").replace("'", ""))
    if rule is None:
        return
    if operator == "IN" or rule.match(raw.replace("'", "")) is None:
        raise _RejectError


def unescape_string(token: str) -> str:
    """Decode a quoted STIX pattern string literal."""
    return _UNESCAPE_RE.sub(r"\1", token[1:-1])


def decode_literal(literal: str) -> Any:
    """Decode one pattern literal: str, int, float, bool, bytes, or a canonical timestamp string."""
    first = literal[0]
    if first == "'":
        return unescape_string(literal)
    if first in "tf" and literal in ("true", "false"):
        return literal == "true"
    if literal[1:2] == "'":
        inner = literal[2:-1]
        if first == "t":
            # stix2-patterns accepts impossible dates (Feb 30, leap seconds): keep those as written.
            try:
                return normalize_timestamp(inner)
            except ValueError:
                return inner
        if first == "h":
            return bytes.fromhex(inner)
        return base64.b64decode(inner)
    return float(literal) if "." in literal else int(literal)


def _tokenize(pattern: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    end = len(pattern)
    match = _TOKEN_RE.match
    while True:
        m = match(pattern, pos)
        if m is None:
            if _TRAILING_WS.match(pattern, pos):
                break
            raise _RejectError
        kind = m.lastgroup
        text = m[kind] if kind else ""
        if kind == "ID" and text in KEYWORDS:
            kind = "KW"
        elif kind in {"OP", "P"}:
            kind = text
        tokens.append((kind or "", text))
        pos = m.end()
        if pos >= end:
            break
    tokens.append(("EOF", ""))
    return tokens


class _Parser:
    __slots__ = ("comparisons", "depth", "pos", "tokens")

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.comparisons: list[PatternComparison] = []

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self, kind: str) -> str:
        tok_kind, text = self.tokens[self.pos]
        if tok_kind != kind:
            raise _RejectError
        self.pos += 1
        return text

    def keyword(self, word: str) -> bool:
        kind, text = self.tokens[self.pos]
        if kind == "KW" and text == word:
            self.pos += 1
            return True
        return False

    def pattern(self) -> None:
        self.observations()
        self.take("EOF")

    def observations(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _RejectError
        self.observation()
        while self.keyword("AND") or self.keyword("OR") or self.keyword("FOLLOWEDBY"):
            self.observation()
        self.depth -= 1

    def observation(self) -> None:
        kind = self.peek()[0]
        self.pos += 1
        if kind == "[":
            self.comparison_or()
            self.take("]")
        elif kind == "(":
            self.observations()
            self.take(")")
        else:
            raise _RejectError
        seen: set[str] = set()
        while True:
            if self.keyword("WITHIN"):
                self.take_number(allow_float=True)
                self.require("SECONDS")
                qualifier = "WITHIN"
            elif self.keyword("REPEATS"):
                self.take_number(allow_float=False)
                self.require("TIMES")
                qualifier = "REPEATS"
            elif self.keyword("START"):
                self.take_timestamp()
                self.require("STOP")
                self.take_timestamp()
                qualifier = "START"
            else:
                return
            # stix2-patterns refuses a repeated qualifier type on one observation.
            if qualifier in seen:
                raise _RejectError
            seen.add(qualifier)

    def require(self, word: str) -> None:
        if not self.keyword(word):
            raise _RejectError

    def take_number(self, *, allow_float: bool) -> None:
        text = self.take("NUM")
        if text[0] == "-" or ("." in text and not allow_float):
            raise _RejectError

    def take_timestamp(self) -> None:
        if parse_timestamp(self.take("TS")[2:-1]) is None:
            raise _RejectError

    def comparison_or(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _RejectError
        self.comparison()
        while self.keyword("AND") or self.keyword("OR"):
            self.comparison()
        self.depth -= 1

    def comparison(self) -> None:
        if self.peek()[0] == "(":
            self.pos += 1
            self.comparison_or()
            self.take(")")
            return
        if self.keyword("EXISTS"):
            obj_type, path, parts = self.object_path()
            self.comparisons.append(PatternComparison(obj_type, path, "EXISTS", None, False))
            return
        obj_type, path, parts = self.object_path()
        negated = self.keyword("NOT")
        kind, text = self.peek()
        self.pos += 1
        raw: str
        if kind in _OPS:
            operator = _OPS[kind]
            raw = self.literal(allow_bool=operator in ("=", "!="))
            value = decode_literal(raw)
        elif kind == "KW" and text == "IN":
            operator = "IN"
            raw = ""
            value = self.set_literal()
        elif kind == "KW" and text in _STRING_OPS:
            operator = text
            raw = self.take("STR")
            value = unescape_string(raw)
        else:
            raise _RejectError
        if "hashes" in parts:
            _check_hash(parts[-1], operator, raw)
        self.comparisons.append(PatternComparison(obj_type, path, operator, value, negated))

    def literal(self, *, allow_bool: bool) -> str:
        kind, text = self.peek()
        self.pos += 1
        if kind in ("STR", "NUM", "HEX", "BIN"):
            return text
        if kind == "TS":
            if parse_timestamp(text[2:-1]) is None:
                raise _RejectError
            return text
        if allow_bool and kind == "KW" and text in ("true", "false"):
            return text
        raise _RejectError

    def set_literal(self) -> list[Any]:
        self.take("(")
        values: list[Any] = []
        if self.peek()[0] == ")":
            self.pos += 1
            return values
        values.append(decode_literal(self.literal(allow_bool=True)))
        while self.peek()[0] == ",":
            self.pos += 1
            values.append(decode_literal(self.literal(allow_bool=True)))
        self.take(")")
        return values

    def object_path(self) -> tuple[str, str, list[str | int | None]]:
        obj_type = self.take("ID")
        self.take(":")
        first = self.key()
        parts: list[str | int | None] = [first]
        path = [first]
        while True:
            kind = self.peek()[0]
            if kind == ".":
                self.pos += 1
                key = self.key()
                parts.append(key)
                path.append("." + key)
            elif kind == "[" and self.tokens[self.pos + 1][0] in ("NUM", "*"):
                self.pos += 1
                step_kind, text = self.peek()
                self.pos += 1
                if step_kind == "NUM" and (text[0] == "-" or "." in text):
                    raise _RejectError
                self.take("]")
                parts.append(None if text == "*" else int(text))
                path.append("[*]" if text == "*" else f"[{int(text)}]")
            else:
                return obj_type, "".join(path), parts

    def key(self) -> str:
        kind, text = self.peek()
        self.pos += 1
        if kind == "STR":
            # Backslashes in keys are decoded differently by stix2-patterns: let it decide.
            if "\\" in text:
                raise _RejectError
            return text[1:-1]
        if kind == "ID" and "-" not in text:
            return text
        raise _RejectError


def fast_comparisons(pattern: str) -> list[PatternComparison] | None:
    """The comparisons of a pattern the fast path proves valid, else None."""
    try:
        parser = _Parser(_tokenize(pattern))
        parser.pattern()
    except (_RejectError, ValueError):
        return None
    return parser.comparisons
