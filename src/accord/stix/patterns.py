"""STIX 2.1 pattern validation and comparison extraction: a fast recogniser, stix2-patterns behind it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from stix2patterns.v21.grammars.STIXPatternListener import STIXPatternListener
from stix2patterns.v21.pattern import Pattern
from stix2patterns.validator import run_validator

from accord.stix._pattern_fast import PatternComparison, decode_literal, fast_comparisons, unescape_string
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
    try:
        errors: list[str] = run_validator(pattern, "2.1")
    # stix2-patterns crashes on some inputs (e.g. a negative index step): that is a refusal too.
    except Exception as exc:
        return f"pattern could not be parsed ({type(exc).__name__})"
    if not errors:
        return None
    return errors[0].removeprefix("FAIL: ")


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
    collector = _Collector()
    Pattern(pattern).walk(collector)
    return tuple(collector.comparisons)


_OPERATORS = {"==": "=", "<>": "!="}


class _Collector(STIXPatternListener):  # type: ignore[misc]
    """Collects comparisons from a stix2-patterns parse tree (slow path)."""

    def __init__(self) -> None:
        self.comparisons: list[PatternComparison] = []
        self._type = ""
        self._path: list[str] = []

    def _add(self, ctx: Any, operator: str, value: Any) -> None:
        negated = bool(getattr(ctx, "NOT", lambda: None)())
        self.comparisons.append(PatternComparison(self._type, "".join(self._path), operator, value, negated))

    def exitObjectType(self, ctx: Any) -> None:  # noqa: N802 - ANTLR listener names
        self._type = ctx.getText()

    def exitFirstPathComponent(self, ctx: Any) -> None:  # noqa: N802
        literal = ctx.StringLiteral()
        self._path = [unescape_string(literal.getText()) if literal else ctx.getText()]

    def exitKeyPathStep(self, ctx: Any) -> None:  # noqa: N802
        literal = ctx.StringLiteral()
        key = unescape_string(literal.getText()) if literal else ctx.IdentifierWithoutHyphen().getText()
        self._path.append("." + key)

    def exitIndexPathStep(self, ctx: Any) -> None:  # noqa: N802
        if ctx.ASTERISK():
            self._path.append("[*]")
        else:
            number = ctx.IntPosLiteral() or ctx.IntNegLiteral()
            self._path.append(f"[{int(number.getText())}]")

    def exitPropTestEqual(self, ctx: Any) -> None:  # noqa: N802
        op = (ctx.EQ() or ctx.NEQ()).getText()
        self._add(ctx, _OPERATORS.get(op, op), decode_literal(ctx.primitiveLiteral().getText()))

    def exitPropTestOrder(self, ctx: Any) -> None:  # noqa: N802
        op = (ctx.GT() or ctx.LT() or ctx.GE() or ctx.LE()).getText()
        self._add(ctx, op, decode_literal(ctx.orderableLiteral().getText()))

    def exitPropTestSet(self, ctx: Any) -> None:  # noqa: N802
        values = [decode_literal(lit.getText()) for lit in ctx.setLiteral().primitiveLiteral()]
        self._add(ctx, "IN", values)

    def _string_test(self, ctx: Any, operator: str) -> None:
        self._add(ctx, operator, unescape_string(ctx.StringLiteral().getText()))

    def exitPropTestLike(self, ctx: Any) -> None:  # noqa: N802
        self._string_test(ctx, "LIKE")

    def exitPropTestRegex(self, ctx: Any) -> None:  # noqa: N802
        self._string_test(ctx, "MATCHES")

    def exitPropTestIsSubset(self, ctx: Any) -> None:  # noqa: N802
        self._string_test(ctx, "ISSUBSET")

    def exitPropTestIsSuperset(self, ctx: Any) -> None:  # noqa: N802
        self._string_test(ctx, "ISSUPERSET")

    def exitPropTestExists(self, ctx: Any) -> None:  # noqa: N802
        self.comparisons.append(PatternComparison(self._type, "".join(self._path), "EXISTS", None, False))
