"""Value-index rows of indicators: one row per comparison, correlating only for equality and subsets."""

from __future__ import annotations

import pytest

from accord.correlate import _patterns
from accord.correlate.values import IndexValue, values_of

SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def indicator(pattern: str, pattern_type: str = "stix") -> dict[str, str]:
    return {"type": "indicator", "pattern_type": pattern_type, "pattern": pattern}


def rows(pattern: str) -> set[tuple[str, str, bool]]:
    return {(r.kind, r.key, r.correlating) for r in values_of(indicator(pattern))}


def test_equality_correlates() -> None:
    assert rows("[ipv4-addr:value = '1.2.3.4']") == {("ip", "1.2.3.4", True)}
    assert rows("[domain-name:value = 'A.Evil.com']") == {("domain", "com.evil.a.", True)}
    assert rows(f"[file:hashes.'SHA-256' = '{SHA256.upper()}']") == {("hash:sha256", SHA256, True)}
    assert rows(f"[file:hashes.MD5 = '{MD5}']") == {("hash:md5", MD5, True)}
    assert rows("[autonomous-system:number = 13335]") == {("asn", "AS13335", True)}


def test_in_yields_one_correlating_row_per_member() -> None:
    assert rows("[email-message:to_refs[*].value IN ('A@b.com', 'c@d.com')]") == {
        ("email", "a@b.com", True),
        ("email", "c@d.com", True),
    }


def test_issubset_on_addresses_is_a_correlating_range() -> None:
    (row,) = values_of(indicator("[ipv4-addr:value ISSUBSET '10.9.0.0/8']"))
    assert row == IndexValue("ip", "10.0.0.0/8", "10.0.0.0/8", "4:0a000000", "4:0affffff", True)


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value LIKE '%.evil.com']",
        "[url:value MATCHES '^http://evil']",
        "[ipv4-addr:value != '1.2.3.4']",
        "[ipv4-addr:value NOT = '1.2.3.4']",
        "[domain-name:value NOT IN ('evil.com', 'bad.org')]",
        "[ipv4-addr:value ISSUPERSET '10.0.0.0/8']",
    ],
)
def test_non_matching_comparisons_are_kept_for_display_only(pattern: str) -> None:
    found = values_of(indicator(pattern))
    assert found
    assert not any(r.correlating for r in found)


def test_operand_that_does_not_normalise_is_kept_verbatim() -> None:
    (row,) = values_of(indicator("[url:value LIKE 'http://%evil%']"))
    assert (row.kind, row.value, row.correlating) == ("url", "http://%evil%", False)


def test_value_both_matched_and_mentioned_correlates_once() -> None:
    found = values_of(indicator("[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value != '1.2.3.4']"))
    assert found == [IndexValue("ip", "1.2.3.4", "1.2.3.4", "4:01020304", "4:01020304", True)]


def test_paths_map_to_kinds() -> None:
    pattern = (
        "[file:name = 'Evil.exe' AND mutex:name = 'Global\\\\M'"
        " AND windows-registry-key:key = 'HKLM\\\\Software\\\\Run'"
        " AND x509-certificate:serial_number = '00:0A:FF'"
        " AND network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'curl/8'"
        " AND email-message:from_ref.value = 'Bob@Example.com'"
        f" AND artifact:hashes.'SHA-256' = '{SHA256}'"
        " AND url:value = 'HTTP://Evil.com'"
        " AND ipv6-addr:value = '2001:DB8::1'"
        " AND user-account:user_id = 'root']"
    )
    assert rows(pattern) == {
        ("file-name", "evil.exe", True),
        ("mutex", "Global\\M", True),
        ("registry-key", "hkey_local_machine\\software\\run", True),
        ("x509-serial", "aff", True),
        ("user-agent", "curl/8", True),
        ("email", "bob@example.com", True),
        ("hash:sha256", SHA256, True),
        ("url", "http://evil.com/", True),
        ("domain", "com.evil.", True),
        ("ip", "2001:db8::1", True),
    }


def test_multi_observation_patterns_use_the_full_parser() -> None:
    pattern = "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'evil.com'] WITHIN 60 SECONDS"
    assert rows(pattern) == {("ip", "1.2.3.4", True), ("domain", "com.evil.", True)}


def test_non_stix_or_broken_patterns_yield_nothing() -> None:
    assert values_of(indicator("alert tcp any any -> any any", pattern_type="snort")) == []
    assert values_of(indicator("[ipv4-addr:value = ")) == []
    assert values_of({"type": "indicator", "pattern_type": "stix"}) == []


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '1.2.3.4']",
        "[ipv4-addr:value='1.2.3.4']",
        f"[file:hashes.'SHA-256' = '{SHA256}' OR file:hashes.MD5 = '{MD5}']",
        "[domain-name:value = 'evil.com' AND domain-name:value NOT = 'good.com']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8' AND ipv4-addr:value != '10.1.1.1']",
        "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' NOT LIKE 'x%']",
        "[autonomous-system:number = 13335]",
        "[file:name = 'it\\'s.exe']",
        "[windows-registry-key:key = 'HKLM\\\\Run']",
    ],
)
def test_fast_reader_agrees_with_the_full_parser(pattern: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _patterns._simple(pattern) is not None  # the shape is one the fast reader takes
    fast = values_of(indicator(pattern))
    monkeypatch.setattr(_patterns, "_simple", lambda _pattern: None)
    assert values_of(indicator(pattern)) == fast
