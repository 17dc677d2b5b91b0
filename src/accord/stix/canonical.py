"""JSON Canonicalization Scheme (RFC 8785) for the values STIX objects hold."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

__all__ = ["canonical_string", "canonicalize"]

# json.dumps(ensure_ascii=False) escapes exactly what RFC 8785 requires (", \, and control
# characters as \b \t \n \f \r or lowercase \u00xx), so it serialises strings canonically.
canonical_string = json.JSONEncoder(ensure_ascii=False).encode


def _number(value: float) -> str:
    """Serialise a float the way ECMAScript's Number.prototype.toString does."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError("NaN and Infinity cannot be canonicalised")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest round-tripping digits; re-layout them by ECMAScript's rules.
    parts = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, parts.digits))
    exponent = int(parts.exponent)
    # exponent is the power of ten of the last digit; n is ECMAScript's decimal point position.
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp_str = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + exp_str
    return sign + digits[0] + "." + digits[1:] + exp_str


def _emit(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(canonical_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        out.append("{")
        # RFC 8785 orders member names by their UTF-16 code units.
        items = sorted(value.items(), key=lambda kv: str(kv[0]).encode("utf-16-be"))
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            out.append(canonical_string(str(key)))
            out.append(":")
            _emit(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot canonicalise a {type(value).__name__}")


def canonicalize(value: Any) -> str:
    """Return the RFC 8785 canonical JSON text of a JSON-compatible value."""
    out: list[str] = []
    _emit(value, out)
    return "".join(out)
