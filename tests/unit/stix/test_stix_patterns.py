"""Pattern validation: the fast path never accepts what stix2-patterns rejects."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from accord.stix._pattern_fast import fast_comparisons
from accord.stix.patterns import PatternComparison, check_pattern, iter_comparisons

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def stix2_patterns_accepts(pattern: str) -> bool:
    try:
        return not run_validator(pattern, "2.1")
    except Exception:
        return False


VALID = [
    "[ipv4-addr:value = '198.51.100.1']",
    "[ipv4-addr:value = '198.51.100.0/24' OR ipv6-addr:value = '2001:db8::/32']",
    f"[file:hashes.MD5 = '{MD5}' AND file:name = 'a.exe']",
    f"[file:hashes.'SHA-256' = '{SHA256}']",
    "[url:value = 'http://example.com/it\\'s']",
    "[domain-name:value LIKE '%.example.com'] FOLLOWEDBY [url:value MATCHES '^https?://']",
    "[network-traffic:dst_port > 1024 AND network-traffic:dst_port <= 65535] WITHIN 60 SECONDS",
    "[x-acme:vals[*].n IN (1, -2, 3.5, 'x', true)] REPEATS 3 TIMES",
    "[process:created_time >= t'2020-01-01T00:00:00Z'] START t'2020-01-01T00:00:00Z' STOP t'2020-02-01T00:00:00.5Z'",
    "([a-b:c = h'00ff'] OR [a-b:d = b'AAAA']) AND [e-f:g NOT != 'x']",
    "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
    "[EXISTS windows-registry-key:values[0].name]",
]
INVALID = [
    "",
    "ipv4-addr:value = '1.2.3.4'",
    "[ipv4-addr:value = '1.2.3.4'",
    "[ipv4-addr:value = 1.2.3.4]",
    "[file:hashes.MD5 = 'abc']",
    f"[file:hashes.MD5 IN ('{MD5}')]",
    "[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS",
    "[a:b = 'x'] and [c:d = 'y']",
    "[a:b[-1] = 1]",
    "[a:b LIKE 5]",
    "[a:b < true]",
    "[a:b = 'unterminated]",
]


@pytest.mark.parametrize("pattern", VALID)
def test_valid_patterns_take_the_fast_path(pattern: str) -> None:
    assert fast_comparisons(pattern) is not None
    assert stix2_patterns_accepts(pattern)
    assert check_pattern(pattern) is None


@pytest.mark.parametrize("pattern", INVALID)
def test_invalid_patterns_are_refused_with_a_reason(pattern: str) -> None:
    assert fast_comparisons(pattern) is None
    reason = check_pattern(pattern)
    assert reason
    assert not reason.startswith("FAIL")


def test_slow_path_accepts_what_the_fast_path_does_not_know() -> None:
    pattern = "[a:b = 1] /* a comment */ AND [c:d = t'2020-02-30T00:00:00Z']"
    assert fast_comparisons(pattern) is None
    assert check_pattern(pattern) is None
    assert [c.value for c in iter_comparisons(pattern)] == [1, "2020-02-30T00:00:00Z"]


def test_check_pattern_rejects_non_strings() -> None:
    assert check_pattern(5) == "pattern must be a string"  # type: ignore[arg-type]


def test_specific_reasons() -> None:
    assert check_pattern("[file:hashes.MD5 = 'abc']") == "'abc' is not a valid MD5 hash"
    assert "Duplicate qualifier" in (check_pattern("[a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES") or "")


def test_iter_comparisons_decodes_values() -> None:
    pattern = (
        f"[file:hashes.'SHA-256' = '{SHA256}' OR x-a:y[*].z NOT IN (1, 'a\\'b', true, h'00', b'AAAA')]"
        " AND [url:value LIKE 'http://a\\\\b%'] AND [EXISTS process:pid]"
        " AND [x:t > t'2020-01-01T00:00:00Z']"
    )
    assert iter_comparisons(pattern) == [
        PatternComparison("file", "hashes.SHA-256", "=", SHA256, False),
        PatternComparison("x-a", "y[*].z", "IN", [1, "a'b", True, b"\x00", b"\x00\x00\x00"], True),
        PatternComparison("url", "value", "LIKE", "http://a\\b%", False),
        PatternComparison("process", "pid", "EXISTS", None, False),
        PatternComparison("x", "t", ">", "2020-01-01T00:00:00.000000Z", False),
    ]


@pytest.mark.parametrize("pattern", [*VALID, "[a:b = 1] // trailing comment", "[a:'b' <> 2]"])
def test_fast_and_slow_comparisons_agree(pattern: str) -> None:
    from stix2patterns.v21.pattern import Pattern

    from accord.stix._pattern_antlr import _Collector

    collector = _Collector()
    Pattern(pattern).walk(collector)
    fast = fast_comparisons(pattern)
    if fast is not None:
        assert fast == collector.comparisons
    assert iter_comparisons(pattern) == collector.comparisons


def test_iter_comparisons_refuses_invalid() -> None:
    with pytest.raises(ValueError, match="not a valid MD5"):
        iter_comparisons("[file:hashes.MD5 = 'abc']")


# --- property: whenever the fast path accepts, stix2-patterns accepts -------------------------

_WORDS = [
    "[", "]", "(", ")", ":", ".", ",", "*", "=", "==", "!=", "<>", "<", ">", "<=", ">=",
    "AND", "OR", "NOT", "FOLLOWEDBY", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS",
    "WITHIN", "SECONDS", "REPEATS", "TIMES", "START", "STOP", "LAST", "true", "false", "and",
    "ipv4-addr", "file", "hashes", "MD5", "'SHA-256'", "value", "x-y", "x-", "_a", "a-b-", "ab",
    "'a'", "'it\\'s'", "'a\\\\'", "''", "'", "\\", f"'{MD5}'", f"'{SHA256}'",
    "0", "1", "-1", "+1", "01", "1.5", ".5", "-.5", "1.", "1e5",
    "h'00'", "h'0'", "b'AAAA'", "b'AA=='", "b'A'", "t'2020-01-01T00:00:00Z'", "t'2020-13-01T00:00:00Z'",
    "t'2020-01-01T00:00:60Z'", "/*", "*/", "//", "\u00a0", "\t", "\n",
]  # fmt: skip
_SEPARATORS = st.sampled_from(["", " ", " ", "  ", "\t"])


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=14))
    return "".join(w + draw(_SEPARATORS) for w in words)


@st.composite
def mutated_valid(draw: st.DrawFn) -> str:
    pattern = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(pattern)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "word"]))
        char = draw(st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("[]()'\\:.-= "))
        if action == "insert":
            pattern = pattern[:pos] + char + pattern[pos:]
        elif action == "delete":
            pattern = pattern[:pos] + pattern[pos + 1 :]
        elif action == "replace":
            pattern = pattern[:pos] + char + pattern[pos + 1 :]
        else:
            pattern = pattern[:pos] + " " + draw(st.sampled_from(_WORDS)) + " " + pattern[pos:]
    return pattern


@st.composite
def generated(draw: st.DrawFn) -> str:
    """Mostly-valid patterns built from the grammar, so the fast path accepts often."""

    def comparison() -> str:
        path = draw(st.sampled_from(["a-b:c", "file:hashes.MD5", "x:y[0]", "x:y[*].z", "x:'k'", "t:hashes.'SHA-1'"]))
        op = draw(st.sampled_from(["=", "!=", "<", ">=", "IN", "LIKE", "NOT =", "MATCHES"]))
        lit = draw(st.sampled_from(["'v'", "1", "-2", "1.5", "true", "h'ab'", "b'AAAA'", f"'{MD5}'", "('a', 2)", "()"]))
        return f"{path} {op} {lit}"

    obs = []
    for _ in range(draw(st.integers(1, 3))):
        inner = " AND ".join(comparison() for _ in range(draw(st.integers(1, 2))))
        qual = draw(
            st.sampled_from(["", " WITHIN 5 SECONDS", " REPEATS 2 TIMES", " WITHIN 1 SECONDS WITHIN 2 SECONDS"])
        )
        obs.append(f"[{inner}]{qual}")
    return draw(st.sampled_from([" AND ", " OR ", " FOLLOWEDBY "])).join(obs)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(token_soup(), mutated_valid(), generated(), st.text(max_size=40)))
@example("[a:b = 1]\u00a0")
@example("[file:hashes[0] = 'x']")
def test_fast_path_never_accepts_what_stix2_patterns_rejects(pattern: str) -> None:
    if fast_comparisons(pattern) is not None:
        assert stix2_patterns_accepts(pattern), pattern


@settings(max_examples=200, deadline=None)
@given(generated())
def test_fast_comparisons_equal_the_parse_tree_walk(pattern: str) -> None:
    from stix2patterns.v21.pattern import Pattern

    from accord.stix._pattern_antlr import _Collector

    fast = fast_comparisons(pattern)
    if fast is None:
        return
    collector = _Collector()
    Pattern(pattern).walk(collector)
    assert fast == collector.comparisons


def test_the_fast_paths_keywords_are_the_grammars():
    # Written out in accord.stix._pattern_fast so that importing it does not load the ANTLR parser.
    import re

    from stix2patterns.v21.grammars.STIXPatternParser import STIXPatternParser

    from accord.stix._pattern_fast import KEYWORDS

    literal = {name.strip("'") for name in STIXPatternParser.literalNames if re.fullmatch(r"'[A-Za-z]+'", name)}
    operators = {"AND", "OR", "NOT", "FOLLOWEDBY", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"}
    assert literal | operators == KEYWORDS


def test_importing_the_validator_does_not_load_the_antlr_parser():
    import subprocess
    import sys

    code = (
        "import sys, accord.store.prepare, accord.cli.main; "
        "print(sorted(m for m in sys.modules if m.startswith(('antlr4', 'stix2patterns.v21.grammars'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
