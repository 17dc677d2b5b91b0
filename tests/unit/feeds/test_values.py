"""Pure feed conversions: valid patterns for any value, stable ids, text/CSV parsing, MISP manifests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.feeds.errors import FeedError
from accord.feeds.misp import manifest_changes, misp_id, tlp_from_tags
from accord.feeds.misp_types import attribute_comparisons, object_pattern
from accord.feeds.parse import parse_columns, parse_csv, parse_text
from accord.feeds.values import Item, comparison, item_object
from accord.remote.http import RemoteError, check_url
from accord.stix.markings import Tlp
from accord.stix.patterns import check_pattern, iter_comparisons
from accord.stix.validate import validate_object

NOW = "2026-01-10T00:00:00.000000Z"


@given(st.text(min_size=1, max_size=60).filter(lambda s: s.strip() == s and s))
def test_any_value_gives_a_valid_pattern_that_round_trips(value: str) -> None:
    for kind in ("file-name", "mutex", "registry-key", "url", "domain"):
        cmp = comparison(kind, value)
        assert cmp is not None
        pattern = f"[{cmp}]"
        assert check_pattern(pattern) is None, pattern
        assert iter_comparisons(pattern)[0].value == value


def test_item_objects_are_valid_and_deterministic() -> None:
    item = Item("ip", "203.0.113.9", "C2")
    first = item_object(item, "bl", NOW, Tlp.AMBER)
    assert first is not None
    assert validate_object(first) is None
    assert first == item_object(item, "bl", NOW, Tlp.AMBER)
    assert first["id"] != item_object(item, "other-feed", NOW, Tlp.AMBER)["id"]  # type: ignore[index]
    cve = item_object(Item("cve", "CVE-2024-3094"), "bl", NOW, None)
    assert cve is not None
    assert cve["type"] == "vulnerability"
    assert validate_object(cve) is None


def test_text_parsing_ignores_comments_and_detects_types() -> None:
    body = b"# header\n\n1.2.3.4\nevil.example.com # c2\nnot a value at all\n"
    parsed = parse_text(body, "t", None)
    assert [(i.kind, i.value, i.comment) for i in parsed.items] == [
        ("ip", "1.2.3.4", ""),
        ("domain", "evil.example.com", "c2"),
    ]
    assert parsed.skipped == 1
    with pytest.raises(FeedError, match="invalid content"):
        parse_text(b"<!doctype html><p>hi</p>", "t", None)
    with pytest.raises(FeedError, match="binary"):
        parse_text(b"\x00\x01\x02", "t", None)


def test_csv_mapping_and_delimiters() -> None:
    assert parse_columns("value=2, type=1") == {"value": 1, "type": 0}
    for bad in ("value", "val=1", "value=0", "type=1"):
        with pytest.raises(ValueError):
            parse_columns(bad)
    parsed = parse_csv(b"h;x\nsha256;" + b"a" * 64 + b"\n", "c", "type=1,value=2", ";", True, None)
    assert [(i.kind, i.value) for i in parsed.items] == [("hash:sha256", "a" * 64)]


def test_misp_helpers() -> None:
    assert tlp_from_tags(["tlp:green", "tlp:amber+strict", "x"]) == Tlp.AMBER_STRICT
    assert tlp_from_tags(["tlp:clear"]) == Tlp.CLEAR
    assert misp_id("report", "5F0C2A1E-6B1D-4C3A-9E2F-1A2B3C4D5E01") == "report--5f0c2a1e-6b1d-4c3a-9e2f-1a2b3c4d5e01"
    assert misp_id("report", "00000000-0000-0000-0000-000000000000").startswith("report--")
    uuid = "5f0c2a1e-6b1d-4c3a-9e2f-1a2b3c4d5e01"
    assert manifest_changes({uuid: {"timestamp": "5"}}, {uuid: "5"}) == []
    assert manifest_changes({uuid: {"timestamp": "6"}}, {uuid: "5"}) == [(uuid, "6")]
    with pytest.raises(FeedError):
        manifest_changes(["not", "a", "manifest"], {})
    for mtype, value in (
        ("filename|sha256", "a b'.exe|" + "b" * 64),
        ("ip-dst|port", "192.0.2.1|443"),
        ("domain|ip", "x.example|192.0.2.1"),
        ("regkey|value", "HKLM\\Run|c:\\evil.exe"),
        ("AS", "AS64500"),
    ):
        pattern = object_pattern(attribute_comparisons(mtype, value))
        assert pattern is not None
        assert check_pattern(pattern) is None, pattern


def test_only_http_urls() -> None:
    assert check_url("https://example.org/feed") == "https://example.org/feed"
    for bad in ("file:///etc/passwd", "ftp://example.org/x", "http:///nohost"):
        with pytest.raises(RemoteError):
            check_url(bad)
