"""The caches and shortcuts behind validation give the same answers as the plain rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.stix.ids import ID_RE
from accord.stix.timestamps import normalize_timestamp, parse_timestamp
from accord.stix.validate import validate_object

IND = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
T = "2021-01-01T00:00:00.000Z"


def indicator(**extra: Any) -> dict[str, Any]:
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": IND, "created": T, "modified": T,
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": T,
    }  # fmt: skip
    obj.update(extra)
    return obj


def test_repeated_timestamps_are_checked_every_time() -> None:
    assert normalize_timestamp(T) == "2021-01-01T00:00:00.000000Z"
    assert normalize_timestamp(T) == "2021-01-01T00:00:00.000000Z"
    for bad in ("2021-02-29T00:00:00Z", "2021-01-01T23:59:60Z", ["x"], None):
        for _ in range(2):
            with pytest.raises(ValueError):
                normalize_timestamp(bad)  # type: ignore[arg-type]


@given(st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z", fullmatch=True))
def test_normalize_agrees_with_parse(value: str) -> None:
    parsed = parse_timestamp(value)
    if parsed is None:
        with pytest.raises(ValueError):
            normalize_timestamp(value)
    else:
        assert normalize_timestamp(value) == f"{parsed:%Y-%m-%dT%H:%M:%S.%f}Z".rjust(27, "0")


def test_a_remembered_id_does_not_excuse_a_bad_reference() -> None:
    assert validate_object(indicator()) is None
    assert validate_object(indicator(created_by_ref=IND)) == f"created_by_ref '{IND}' must reference an identity"
    upper = IND.upper().replace("INDICATOR", "indicator")
    assert validate_object(indicator(object_marking_refs=[upper])) is not None
    assert validate_object(indicator(x_refs=[IND, 5])) == "x_refs contains 5, which is not a STIX identifier"


def test_reference_lists_count_towards_depth() -> None:
    assert validate_object(indicator(x_refs=[IND]), max_depth=1) is None
    assert validate_object(indicator(x_refs=[IND]), max_depth=0) == "nesting deeper than 0 levels"
    assert validate_object(indicator(x_other=[[["a"]]]), max_depth=3) is None
    assert validate_object(indicator(x_other=[[["a"]]]), max_depth=2) == "nesting deeper than 2 levels"


def test_property_kinds_follow_the_object_type() -> None:
    # "start" is a timestamp on network-traffic only; elsewhere it is an ordinary custom property.
    assert validate_object(indicator(start="soon")) is None
    traffic = {"type": "network-traffic", "id": "network-traffic--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
    assert "start ('soon') is not a valid STIX timestamp" in (validate_object({**traffic, "start": "soon"}) or "")
    assert validate_object(indicator(name=5)) == "name must be a string"
    assert validate_object(indicator(labels=["a", ""])) == "labels must be a non-empty list of non-empty strings"


def test_lazy_id_regex_splits_like_the_spec() -> None:
    m = ID_RE.match("x--y--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    assert m is not None
    assert m[1] == "x--y"
    assert ID_RE.match("ab--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") is None
