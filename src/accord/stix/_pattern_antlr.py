"""The slow path of accord.stix.patterns: stix2-patterns' ANTLR parser, for patterns the fast paths do not take.

Imported on first use only: the ANTLR runtime and the generated parser are slow to import
(bench/bench_extract_startup.py times process start-up).
"""

from __future__ import annotations

from typing import Any

from stix2patterns.v21.grammars.STIXPatternListener import STIXPatternListener
from stix2patterns.v21.pattern import Pattern
from stix2patterns.validator import run_validator

from accord.stix._pattern_fast import PatternComparison, decode_literal, unescape_string


def check(pattern: str) -> str | None:
    """None if stix2-patterns accepts the pattern as STIX 2.1, else its first reason."""
    try:
        errors: list[str] = run_validator(pattern, "2.1")
    # stix2-patterns crashes on some inputs (e.g. a negative index step): that is a refusal too.
    except Exception as exc:
        return f"pattern could not be parsed ({type(exc).__name__})"
    if not errors:
        return None
    return errors[0].removeprefix("FAIL: ")


def comparisons(pattern: str) -> tuple[PatternComparison, ...]:
    """The comparisons of a pattern stix2-patterns accepts, from its parse tree."""
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
