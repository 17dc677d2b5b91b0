"""STIX 2.1 pattern validation and comparison extraction: a fast recogniser, stix2-patterns behind it.

stix2-patterns (its ANTLR parser, in accord.stix._pattern_antlr) is imported only when a pattern needs it: the
fast paths take the common shapes, and most processes never load the parser.
"""

from __future__ import annotations

from functools import lru_cache

from accord.stix._pattern_fast import PatternComparison, fast_comparisons
from accord.stix._pattern_simple import is_simple_valid, simple_comparisons

__all__ = ["PatternComparison", "check_pattern", "iter_comparisons"]

_CACHE_SIZE = 32768


def check_pattern(pattern: str) -> str | None:
    """None if pattern is a valid STIX 2.1 pattern, else the reason it is not."""
    if not isinstance(pattern, str):
        return "pattern must be a string"
    # Most real patterns are one regex match away from proven valid: cheaper than a cache lookup and entry.
    if is_simple_valid(pattern):
        return None
    return _check(pattern)


@lru_cache(maxsize=_CACHE_SIZE)
def _check(pattern: str) -> str | None:
    if fast_comparisons(pattern) is not None:
        return None
    return _slow_check(pattern)


def _slow_check(pattern: str) -> str | None:
    if not pattern.strip():
        return "pattern is empty"
    from accord.stix._pattern_antlr import check

    return check(pattern)


def iter_comparisons(pattern: str) -> list[PatternComparison]:
    """All comparison expressions of a valid pattern, values decoded; ValueError if invalid."""
    return list(_comparisons(pattern))


@lru_cache(maxsize=_CACHE_SIZE)
def _comparisons(pattern: str) -> tuple[PatternComparison, ...]:
    fast = simple_comparisons(pattern)
    if fast is None:
        fast = fast_comparisons(pattern)
    if fast is not None:
        return tuple(fast)
    reason = check_pattern(pattern)
    if reason is not None:
        raise ValueError(reason)
    from accord.stix._pattern_antlr import comparisons

    return comparisons(pattern)
