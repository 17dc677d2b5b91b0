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
_ONE_US = timedelta(microseconds=1)


def _valid_fields(m: re.Match[str]) -> bool:
    return _valid_prefix(m.string[:19])


# Feeds repeat the same few seconds endlessly: caching the calendar check keeps normalisation cheap.
@lru_cache(maxsize=65536)
def _valid_prefix(prefix: str) -> bool:
    year, month, day = int(prefix[0:4]), int(prefix[5:7]), int(prefix[8:10])
    if not (1 <= month <= 12 and day >= 1 and year >= 1):
        return False
    if day > _DAYS[month] and not (
        month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    ):
        return False
    # Leap seconds (":60") are rejected: they cannot be ordered or stored as datetimes.
    return int(prefix[11:13]) < 24 and int(prefix[14:16]) < 60 and int(prefix[17:19]) < 60


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
    m = _TS_RE.match(value) if isinstance(value, str) else None
    if m is None or not _valid_fields(m):
        raise ValueError(f"{value!r} is not a valid STIX timestamp")
    frac = m[7]
    if frac is not None and len(frac) == 6:
        return value
    # Digits beyond microseconds are truncated, never rounded: rounding could carry into the seconds.
    return f"{value[:19]}.{((frac or '') + '000000')[:6]}Z"


def timestamp_to_micros(value: str) -> int:
    """Microseconds since the Unix epoch (UTC) of a STIX timestamp; raise ValueError if invalid."""
    dt = parse_timestamp(value)
    if dt is None:
        raise ValueError(f"{value!r} is not a valid STIX timestamp")
    return (dt - _EPOCH) // _ONE_US


def micros_to_timestamp(us: int) -> str:
    """Canonical STIX timestamp for microseconds since the Unix epoch (UTC)."""
    dt = _EPOCH + timedelta(microseconds=us)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}.{dt.microsecond:06d}Z"
    )
