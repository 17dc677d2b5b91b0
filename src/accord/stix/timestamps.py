"""STIX 2.1 timestamps: strict parsing, canonical form and microsecond integers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

__all__ = ["micros_to_timestamp", "normalize_timestamp", "parse_timestamp", "timestamp_to_micros"]

# ASCII digits only: \d would also accept other Unicode digits.
_TS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?Z\Z")
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_NORMALIZED: dict[str, str] = {}
_MICROS: dict[str, int] = {}
_NORMALIZED_SIZE = 4096


def _valid_fields(m: re.Match[str]) -> bool:
    return _valid_time(m.string)


def _valid_time(value: str) -> bool:
    """Calendar check of a string _TS_RE matched (so its fields are ASCII digits)."""
    # Two-digit ASCII fields compare as strings like numbers. Leap seconds (":60") are rejected:
    # they cannot be ordered or stored as datetimes.
    return value[11:13] < "24" and value[14] < "6" and value[17] < "6" and _valid_date(value[:10])


# Feeds repeat the same few days endlessly: caching the calendar check keeps normalisation cheap.
@lru_cache(maxsize=4096)
def _valid_date(date: str) -> bool:
    year, month, day = int(date[0:4]), int(date[5:7]), int(date[8:10])
    if not (1 <= month <= 12 and day >= 1 and year >= 1):
        return False
    return day <= _DAYS[month] or (month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))


def parse_timestamp(value: object) -> datetime | None:
    """Parse a strict STIX timestamp into an aware UTC datetime, or None if it is not one."""
    if not isinstance(value, str):
        return None
    m = _TS_RE.match(value)
    if m is None or not _valid_fields(m):
        return None
    frac = m[7] or ""
    return datetime(
        int(m[1]),
        int(m[2]),
        int(m[3]),
        int(m[4]),
        int(m[5]),
        int(m[6]),
        int((frac + "000000")[:6]),
        tzinfo=UTC,
    )


def normalize_timestamp(value: str) -> str:
    """Return the canonical YYYY-MM-DDTHH:MM:SS.ffffffZ form; raise ValueError if invalid."""
    # One object repeats its timestamps (created, modified, valid_from): remember recent answers.
    try:
        return _NORMALIZED[value]
    except (KeyError, TypeError):
        pass
    if not isinstance(value, str) or _TS_RE.match(value) is None or not _valid_time(value):
        raise ValueError(f"{value!r} is not a valid STIX timestamp")
    size = len(value)
    if size == 27:  # already six fraction digits
        result = value
    elif size == 20:  # no fraction
        result = f"{value[:19]}.000000Z"
    else:
        # Digits beyond microseconds are truncated, never rounded: rounding could carry into the seconds.
        result = f"{value[:19]}.{(value[20:-1] + '000000')[:6]}Z"
    if len(_NORMALIZED) >= _NORMALIZED_SIZE:
        _NORMALIZED.clear()
    _NORMALIZED[value] = result
    return result


def timestamp_to_micros(value: str) -> int:
    """Microseconds since the Unix epoch (UTC) of a STIX timestamp; raise ValueError if invalid."""
    # An indicator's created, modified and valid_from are usually one string, read by validation, scoring and
    # exports alike: remember recent answers, as normalize_timestamp does.
    try:
        return _MICROS[value]
    except (KeyError, TypeError):
        pass
    if not isinstance(value, str) or _TS_RE.match(value) is None or not _valid_time(value):
        raise ValueError(f"{value!r} is not a valid STIX timestamp")
    # Once the strict form is checked, the C parser reads it (digits past microseconds are truncated).
    result = (datetime.fromisoformat(value) - _EPOCH) // _ONE_US
    if len(_MICROS) >= _NORMALIZED_SIZE:
        _MICROS.clear()
    _MICROS[value] = result
    return result


def micros_to_timestamp(us: int) -> str:
    """Canonical STIX timestamp for microseconds since the Unix epoch (UTC)."""
    seconds, micros = divmod(us, 1_000_000)
    return f"{_second(seconds)}.{micros:06d}Z"


@lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    # Stored dates come in runs (a bulk write stamps thousands of versions within one second).
    return (_NAIVE_EPOCH + timedelta(seconds=seconds)).isoformat(timespec="seconds")
