"""Strict STIX timestamps, canonical form and microsecond round trips."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.stix.timestamps import (
    micros_to_timestamp,
    normalize_timestamp,
    parse_timestamp,
    timestamp_to_micros,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-04T05:06:07Z", "2021-03-04T05:06:07.000000Z"),
        ("2021-03-04T05:06:07.1Z", "2021-03-04T05:06:07.100000Z"),
        ("2021-03-04T05:06:07.123456Z", "2021-03-04T05:06:07.123456Z"),
        ("2021-03-04T05:06:07.1234569999Z", "2021-03-04T05:06:07.123456Z"),  # truncated, not rounded
        ("2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999000Z"),
    ],
)
def test_normalize(value: str, expected: str) -> None:
    assert normalize_timestamp(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2021-03-04T05:06:07",  # no Z
        "2021-03-04T05:06:07+00:00",
        "2021-03-04 05:06:07Z",
        "2021-03-04T05:06:07.Z",
        "2021-02-29T00:00:00Z",  # not a leap year
        "1900-02-29T00:00:00Z",
        "2021-04-31T00:00:00Z",
        "2021-13-01T00:00:00Z",
        "2021-00-01T00:00:00Z",
        "2021-01-01T24:00:00Z",
        "2021-01-01T00:60:00Z",
        "2021-01-01T00:00:60Z",
        "2021-1-01T00:00:00Z",
        "２０２１-01-01T00:00:00Z",  # non-ASCII digits
        "2021-01-01T00:00:00z",
        "2021-01-01T00:00:00Z\n",
        "",
    ],
)
def test_invalid_timestamps(value: str) -> None:
    assert parse_timestamp(value) is None
    with pytest.raises(ValueError):
        normalize_timestamp(value)


def test_parse_non_strings() -> None:
    assert parse_timestamp(None) is None
    assert parse_timestamp(20210101) is None


def test_parse_gives_aware_utc() -> None:
    assert parse_timestamp("2000-02-29T12:00:00.5Z") == datetime(2000, 2, 29, 12, 0, 0, 500000, tzinfo=UTC)


def test_micros() -> None:
    assert timestamp_to_micros("1970-01-01T00:00:00Z") == 0
    assert timestamp_to_micros("1970-01-01T00:00:01.000001Z") == 1_000_001
    assert micros_to_timestamp(-1) == "1969-12-31T23:59:59.999999Z"
    with pytest.raises(ValueError):
        timestamp_to_micros("nope")


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_round_trips(dt: datetime) -> None:
    text = dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").rjust(27, "0")
    text = f"{dt.year:04d}" + text[-23:]
    assert normalize_timestamp(text) == text
    assert micros_to_timestamp(timestamp_to_micros(text)) == text
    parsed = parse_timestamp(text)
    assert parsed is not None
    assert parsed.replace(tzinfo=None) == dt


@given(st.datetimes(), st.datetimes())
def test_canonical_strings_order_like_times(a: datetime, b: datetime) -> None:
    ta, tb = (micros_to_timestamp(timestamp_to_micros(f"{d.year:04d}-{d:%m-%dT%H:%M:%S.%f}Z")) for d in (a, b))
    assert (ta < tb) == (a < b)
