"""The one-regex recogniser: a subset of the full fast path, with the same comparisons."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from accord.stix._pattern_fast import fast_comparisons
from accord.stix._pattern_simple import is_simple_valid, simple_comparisons
from accord.stix.patterns import check_pattern

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def stix2_patterns_accepts(pattern: str) -> bool:
    try:
        return not run_validator(pattern, "2.1")
    except Exception:
        return False


SIMPLE = [
    "[ipv4-addr:value = '198.51.100.1']",
    " [domain-name:value=='a.example.com'] \n",
    f"[file:hashes.'SHA-256' = '{SHA256}']",
    f"[file:hashes.MD5 != '{MD5}' AND file:name = 'a.exe']",
    "[url:value = 'http://example.com/it\\'s' OR url:value LIKE '%.php']",
    "[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2')]",
    "[x-acme:'a.b'.c MATCHES '^x' AND x-acme:d <> '']",
    "[a:b IN ()]",
]
NOT_SIMPLE = [
    "[ipv4-addr:value = 1]",  # number literal: the tokenizer decides
    "[ipv4-addr:value NOT = 'x']",
    "[a:b = 'x'] AND [c:d = 'y']",
    "[a:b = 'x'] WITHIN 5 SECONDS",
    "[a:b[0] = 'x']",
    "[a:AND = 'x']",
    "[AND:b = 'x']",
    "[a:b.OR = 'x']",
    "[a:b-c = 'x']",
    "[a:b LIKE'x']",
    f"[file:hashes.MD5 IN ('{MD5}')]",
    "[file:hashes.MD5 = 'abc']",
    "[file:hashes.'SHA-256' = 'abc']",
    "x [a:b = 'x']",
    "[a:b = 'x']]",
    "",
]


@pytest.mark.parametrize("pattern", SIMPLE)
def test_simple_shapes_are_recognised_like_the_parser(pattern: str) -> None:
    assert is_simple_valid(pattern)
    assert simple_comparisons(pattern) == fast_comparisons(pattern)
    assert stix2_patterns_accepts(pattern)
    assert check_pattern(pattern) is None


@pytest.mark.parametrize("pattern", NOT_SIMPLE)
def test_other_shapes_fall_through(pattern: str) -> None:
    assert not is_simple_valid(pattern)
    assert simple_comparisons(pattern) is None


def test_hash_reasons_stay_precise() -> None:
    assert check_pattern("[file:hashes.'SHA-256' = 'abc']") == "'abc' is not a valid SHA-256 hash"


_PATHS = ["a-b:c", "file:hashes.MD5", "file:hashes.'SHA-1'", "x:'k'", "x:'a.b'.c", "x:AND", "x-:y", "t:v-w"]
_OPS = ["=", "==", "!=", "<>", "<", ">=", " LIKE ", " MATCHES ", " ISSUBSET ", " IN ", "NOT =", " NOT IN "]
_LITS = ["'v'", "'it\\'s'", "'a\\\\'", "''", f"'{MD5}'", f"'{SHA256}'", "('a', 'b')", "()", "('a',)", "1", "'x"]


@st.composite
def simple_like(draw: st.DrawFn) -> str:
    """Patterns near the simple shape, valid or not, with odd spacing."""
    ws = st.sampled_from(["", " ", "  ", "\t", "\n"])
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(_OPS))
        parts.append(f"{draw(ws)}{draw(st.sampled_from(_PATHS))}{draw(ws)}{op}{draw(ws)}{draw(st.sampled_from(_LITS))}")
    joined = "".join(p + draw(ws) + draw(st.sampled_from([" AND ", " OR ", "AND ", " and "])) for p in parts[:-1])
    return f"{draw(ws)}[{joined}{parts[-1]}{draw(ws)}]{draw(st.sampled_from(['', ' ', ']', ' WITHIN 5 SECONDS']))}"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    pattern = draw(st.sampled_from(SIMPLE))
    pos = draw(st.integers(0, len(pattern)))
    char = draw(st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("[]()'\\:.-=, \t"))
    return pattern[:pos] + char + pattern[pos + draw(st.integers(0, 1)) :]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(simple_like(), mutated()))
@example("[a:b = 'x' OR c:d = 'y']\u00a0")
@example("[a:'k\\'' = 'x']")
def test_simple_path_is_a_subset_of_the_fast_path(pattern: str) -> None:
    simple = simple_comparisons(pattern)
    assert is_simple_valid(pattern) == (simple is not None)
    if simple is not None:
        assert simple == fast_comparisons(pattern), pattern
        assert stix2_patterns_accepts(pattern), pattern
