"""Extractor behaviour users rely on: refanging, traps, checksums, offsets, flags and deduplication."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.extract import Finding, defang, extract, scan
from accord.extract.bitcoin import is_base58check_address, is_bech32_address


def _pairs(text: str) -> set[tuple[str, str]]:
    return {(f.type, f.value) for f in extract(text)}


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("hxxp://evil-site.com/a", "url", "http://evil-site.com/a"),
        ("hXXps://evil-site.com/a", "url", "https://evil-site.com/a"),
        ("HXXPS://evil-site.com/a", "url", "https://evil-site.com/a"),
        ("evil-site[.]com", "domain-name", "evil-site.com"),
        ("evil-site(.)com", "domain-name", "evil-site.com"),
        ("evil-site{.}com", "domain-name", "evil-site.com"),
        ("evil-site[dot]com", "domain-name", "evil-site.com"),
        ("evil-site(dot)com", "domain-name", "evil-site.com"),
        ("evil-site [.] com", "domain-name", "evil-site.com"),
        ("the host evil-site dot com", "domain-name", "evil-site.com"),
        ("10 dot 1 dot 2 dot 3", "ipv4-addr", "10.1.2.3"),
        ("hxxp[:]//evil-site.com/x", "url", "http://evil-site.com/x"),
        ("hxxp[://]evil-site.com/x", "url", "http://evil-site.com/x"),
        ("https://evil-site.com[/]x[/]y", "url", "https://evil-site.com/x/y"),
        ("bob[@]evil-site.com", "email-addr", "bob@evil-site.com"),
        ("bob[at]evil-site.com", "email-addr", "bob@evil-site.com"),
        ("bob(at)evil-site.com", "email-addr", "bob@evil-site.com"),
        ("bob [at] evil-site [dot] com", "email-addr", "bob@evil-site.com"),
        ("hxxps[:]//cdn[.]evil-site[.]com[/]p[.]exe", "url", "https://cdn.evil-site.com/p.exe"),
        ("198.51.100[.]7", "ipv4-addr", "198.51.100.7"),
    ],
)
def test_defanged_forms_are_found_fanged(text: str, kind: str, value: str) -> None:
    assert (kind, value) in _pairs(f"Seen: {text} today.")


@pytest.mark.parametrize(
    ("text", "absent_type"),
    [
        ("Download invoice.zip and readme.md, run update.sh or script.py.", "domain-name"),
        ("Upgrade to 1.2.3 or v2.0.1, or 10.4.22.1.5 if available.", "domain-name"),
        ("Upgrade to 1.2.3 or v2.0.1 now.", "ipv4-addr"),
        ("Node.js, ASP.NET and System.Net.Http are frameworks.", "domain-name"),
        ("Node.js, ASP.NET and System.Net.Http are frameworks.", "file-name"),
        ("Address 0xd41d8cd98f00b204e9800998ecf8427e is memory.", "md5"),
        ("Run d41d8cd98f00b204e9800998ecf8427e00 is 34 hex digits.", "md5"),
        ("Key ad41d8cd98f00b204e9800998ecf8427e is a word.", "md5"),
        ("Time 10:30:45 and MAC 00:1a:2b:3c:4d:5e.", "ipv6-addr"),
        ("We talked about the dot com era (at least in 1999).", "domain-name"),
        ("We talked about the dot com era (at least in 1999).", "email-addr"),
        ("The Empire and the Agent were words, not tools.", "tool"),
        ("The Empire and the Agent were words, not tools.", "malware"),
        ("Corrupted 16CeYqh3dWWSgsRbPVjQdXTepNuPQjfqAJ wallet.", "bitcoin-address"),
        ("The fancy bear in the zoo.", "threat-actor"),
        ("Saved to /tmp/kinsing.sh and emotet-test.", "malware"),
    ],
)
def test_traps_produce_no_false_positive(text: str, absent_type: str) -> None:
    assert absent_type not in {kind for kind, _ in _pairs(text)}


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("See https://evil-site.com/a.", "https://evil-site.com/a"),
        ("See https://evil-site.com/a, then", "https://evil-site.com/a"),
        ("(see https://evil-site.com/a)", "https://evil-site.com/a"),
        ("see https://evil-site.com/page_(x).", "https://evil-site.com/page_(x)"),
        ('href="https://evil-site.com/a"', "https://evil-site.com/a"),
        ("go to https://evil-site.com/a?b=1&c=2; then", "https://evil-site.com/a?b=1&c=2"),
    ],
)
def test_urls_lose_trailing_punctuation(text: str, url: str) -> None:
    assert [f.value for f in extract(text) if f.type == "url"] == [url]


def test_emails_keep_dots_and_plus_in_local_part() -> None:
    assert ("email-addr", "first.last+tag@mail.evil-site.co.uk") in _pairs("Mail first.last+tag@mail.evil-site.co.uk.")


def test_hashes_by_length() -> None:
    text = " ".join(["a" * 31 + "1", "b" * 39 + "2", "c" * 63 + "3", "d" * 127 + "4"])
    assert {k for k, _ in _pairs(text)} == {"md5", "sha1", "sha256", "sha512"}


def test_hash_value_is_lower_case() -> None:
    assert ("md5", "d41d8cd98f00b204e9800998ecf8427e") in _pairs("MD5: D41D8CD98F00B204E9800998ECF8427E")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("HKLM\\Software\\Evil\\Run", "HKEY_LOCAL_MACHINE\\Software\\Evil\\Run"),
        ("HKCU\\Software\\Evil.", "HKEY_CURRENT_USER\\Software\\Evil"),
        ("HKEY_USERS\\S-1-5-21\\Software\\X", "HKEY_USERS\\S-1-5-21\\Software\\X"),
        ("HKCR\\CLSID\\{0000-11}\\InprocServer32", "HKEY_CLASSES_ROOT\\CLSID\\{0000-11}\\InprocServer32"),
        (
            "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\Evil",
            "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Evil",
        ),
        (
            "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon and more",
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
        ),
    ],
)
def test_registry_keys_spell_out_the_hive(text: str, key: str) -> None:
    assert [f.value for f in extract(f"Key {text} ") if f.type == "windows-registry-key"] == [key]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("AS13335", "asn", "AS13335"),
        ("ASN 16509", "asn", "AS16509"),
        ("ASN13335", "asn", "AS13335"),
        ("cve-2021-44228", "cve", "CVE-2021-44228"),
        ("CVE-2023-123456", "cve", "CVE-2023-123456"),
        ("CVE\u20112021\u201144228", "cve", "CVE-2021-44228"),
        ("T1059", "attack-technique", "T1059"),
        ("T1059.001.", "attack-technique", "T1059.001"),
        ("Spearphishing Attachment", "attack-technique", "T1566.001"),
        ("192.168.0.0/16", "ipv4-cidr", "192.168.0.0/16"),
        ("2001:db8::/32", "ipv6-cidr", "2001:db8::/32"),
        ("2001:DB8:0:0:0:0:0:1", "ipv6-addr", "2001:db8::1"),
    ],
)
def test_identifiers(text: str, kind: str, value: str) -> None:
    assert (kind, value) in _pairs(f"Noted {text} here")


def test_bitcoin_checksums() -> None:
    assert is_base58check_address("16CeYqh3dWWSgsRbPVjQdXTepNuPQjfqAH")
    assert is_base58check_address("3FRyMyk6mPSQTNPDaxnqWp6BRwafoufBZW")
    assert not is_base58check_address("16CeYqh3dWWSgsRbPVjQdXTepNuPQjfqAJ")
    assert not is_base58check_address("16CeYqh3dWWSgsRbPVjQdXTepNuPQjfq0H")  # 0 is not base58
    assert is_bech32_address("bc1qafycw3m7smduewtsgm7zuxpcfegasgx9nyvlj6")
    assert is_bech32_address("bc1pc0hcqpf63zhrn9k72r5qrpjmx6vx2n4l2gq2t7sf8xue67sa0v5qwccy3f")
    assert not is_bech32_address("bc1qafycw3m7smduewtsgm7zuxpcfegasgx9nyvlj7")
    assert not is_bech32_address("bc1qAfycw3m7smduewtsgm7zuxpcfegasgx9nyvlj6")  # mixed case


def test_bitcoin_addresses_in_text() -> None:
    found = _pairs("Pay 16CeYqh3dWWSgsRbPVjQdXTepNuPQjfqAH or BC1QAFYCW3M7SMDUEWTSGM7ZUXPCFEGASGX9NYVLJ6 now")
    assert found == {
        ("bitcoin-address", "16CeYqh3dWWSgsRbPVjQdXTepNuPQjfqAH"),
        ("bitcoin-address", "bc1qafycw3m7smduewtsgm7zuxpcfegasgx9nyvlj6"),
    }


@pytest.mark.parametrize(
    ("text", "addresses"),
    [
        ("version 2.4.1.3 connected to 203.0.113.5", {"203.0.113.5"}),
        ("Windows v10.0.19041.1 and build 6.1.7601.2 were patched", set()),
        ("the OIDs 1.3.6.1.4.1.311 and OID 2.5.4.3", set()),
        ("see section 4.2.1.3 and § 5.1.2.7", set()),
        ("Version: 8.1.2.4, ver. 3.2.1.0, (rev 1.0.0.1), firmware 1.0.2.13, kernel 5.4.0.42", set()),
        ("update 3.1.4.1 came from 8.8.8.8 and patch 4.18.0.305 from 45.133.1[.]20", {"8.8.8.8", "45.133.1.20"}),
        ("server 45.133.1.20 and reverse proxy 185.220.101.47", {"45.133.1.20", "185.220.101.47"}),
    ],
)
def test_versions_oids_and_section_numbers_are_not_addresses(text: str, addresses: set[str]) -> None:
    assert {f.value for f in extract(text) if f.type == "ipv4-addr"} == addresses


def test_private_addresses_are_kept_and_flagged() -> None:
    found = {f.value: f for f in extract("Hosts 10.0.0.5, 192.168.1.1, fe80::1 and 185.220.101.47.")}
    assert "private" in found["10.0.0.5"].flags
    assert "private" in found["192.168.1.1"].flags
    assert "private" in found["fe80::1"].flags
    assert "private" not in found["185.220.101.47"].flags


def test_offsets_point_at_the_written_form_and_context_surrounds_it() -> None:
    text = "Line one.\nThe C2 was hxxps://evil-site[.]com/gate and then 45.77.12[.]9 (dot form: evil dot org)."
    by_value = {f.value: f for f in extract(text)}
    url = by_value["https://evil-site.com/gate"]
    assert text[url.start : url.end] == "hxxps://evil-site[.]com/gate"
    assert text[by_value["45.77.12.9"].start : by_value["45.77.12.9"].end] == "45.77.12[.]9"
    assert text[by_value["evil.org"].start : by_value["evil.org"].end] == "evil dot org"
    assert "hxxps://evil-site[.]com/gate" in url.context
    assert "\n" not in url.context


def test_duplicates_keep_first_offsets_and_count() -> None:
    text = "evil-site.com first, then EVIL-SITE.COM and evil-site[.]com again."
    (finding,) = [f for f in extract(text) if f.type == "domain-name"]
    assert (finding.start, finding.end, finding.occurrences) == (0, 13, 3)


def test_findings_are_ordered_by_first_offset() -> None:
    starts = [f.start for f in extract("b-site.com 1.2.3.4 CVE-2020-1472 a-site.org T1003")]
    assert starts == sorted(starts)


def test_galaxy_names_use_canonical_values_and_alias_flags() -> None:
    found = {(f.type, f.value): f for f in extract("Fancy Bear, also known as Sofacy, deployed Emotet.")}
    actor = found[("threat-actor", "APT28")]
    assert set(actor.flags) == {"alias:Fancy Bear", "alias:Sofacy"}
    assert actor.occurrences == 2
    assert found[("malware", "Emotet")].flags == ()


def test_warninglist_hits_become_flags_and_findings_are_kept() -> None:
    def warninglist(kind: str, value: str) -> list[str]:
        return ["public-dns"] if value == "8.8.8.8" else []

    found = {f.value: f for f in extract("Resolvers 8.8.8.8 and 185.220.101.47.", warninglist=warninglist)}
    assert found["8.8.8.8"].flags == ("warninglist:public-dns",)
    assert found["185.220.101.47"].flags == ()


def test_finding_is_frozen() -> None:
    finding = extract("evil-site.com")[0]
    assert isinstance(finding, Finding)
    with pytest.raises(AttributeError):
        finding.value = "x"  # type: ignore[misc]


_prose = st.text(alphabet=st.sampled_from("abcdefghij klmnop,;()\n"), max_size=60)
_indicators = st.sampled_from(
    [
        "185.220.101.47",
        "evil-site.com",
        "hxxps://evil-site[.]com/x",
        "CVE-2021-44228",
        "bob[at]evil-site.org",
        "d41d8cd98f00b204e9800998ecf8427e",
        "AS13335",
        "HKLM\\Software\\Evil",
        "2001:db8::1",
        "payload.exe",
    ]
)


@settings(max_examples=200, deadline=None)
@given(before=_prose, indicator=_indicators, after=_prose)
def test_an_indicator_in_any_prose_is_found_at_its_offsets(before: str, indicator: str, after: str) -> None:
    text = f"{before} {indicator} {after}"
    spans = {text[f.start : f.end] for f in extract(text)}
    assert indicator in spans


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_well_formed_findings(text: str) -> None:
    for f in extract(text):
        assert 0 <= f.start <= f.end <= len(text)
        assert f.value


def test_pyahocorasick_fallback_finds_the_same_names() -> None:
    from accord.extract import galaxy

    text = "APT28 (Fancy Bear) used Emotet, Cobalt Strike and Mimikatz; Lazarus Group used njRAT via certutil."
    lowered = text.encode("ascii", "replace").lower()
    fallback = galaxy._Matcher(galaxy.matcher().entries, prefer_rust=False)
    found = [(s, e, x.canonical) for s, e, x in galaxy.find_names(text, lowered, fallback)]
    assert found == [(s, e, x.canonical) for s, e, x in galaxy.find_names(text, lowered)]
    assert {c for _, _, c in found} >= {"APT28", "Emotet", "Cobalt Strike", "Mimikatz", "Lazarus Group", "certutil"}


def test_large_texts_search_names_in_a_worker_thread_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.extract import engine

    passage = "APT28 used Emotet against evil-site[.]com and 185.220.101.47 (CVE-2021-44228). " + "filler words " * 40
    text = passage * (engine._THREAD_MIN // len(passage) + 2)
    threaded = extract(text)
    monkeypatch.setattr(engine, "_THREAD_MIN", len(text) + 1)
    assert extract(text) == threaded
    assert {(f.type, f.value) for f in threaded} >= {("threat-actor", "APT28"), ("malware", "Emotet")}


# The version-word test as first written: a search of the characters before a dotted quad, \Z at the quad.
_NUMBERING_FORWARD = re.compile(
    r"(?:(?<![\w-])(?:versions?|ver|v|builds?|releases?|rev|revisions?|firmware|kernels?|updates?|patch(?:es)?"
    r"|oid|sections?|sec|clauses?|chapters?|paragraphs?|para|appendix)[.:]?|§)\s{0,3}\(?\Z",
    re.IGNORECASE,
)
_BEFORE_QUAD = st.lists(
    st.sampled_from(["version", "Versions", "v", "V", "build", "patches", "OID", "§", "para", "x", "-", "_", "é"])
    | st.sampled_from([" ", "  ", "\t", ".", ":", "(", "a", "1", "\n"]),
    max_size=8,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(before=_BEFORE_QUAD)
def test_version_word_match_on_reversed_text_agrees_with_the_forward_search(before: str) -> None:
    # The scanner matches once on the reversed text instead of searching the characters before each quad.
    text = before + "10.0.19041.1"
    start = len(before)
    expected = _NUMBERING_FORWARD.search(text, max(0, start - 16), start) is not None
    assert (scan._NUMBERING_WORD_BEFORE.match(text[::-1], len(text) - start) is not None) is expected


# The bracketed-separator rules as first written: any bracketed separator is matched, then tested in Python.
_BRACKETED_FORWARD = (
    re.compile(r"\[ ?(\.|(?i:dot)|://|//|:|/|@|(?i:at)) ?\]"),
    re.compile(r"\( ?(\.|(?i:dot)|:|@|(?i:at)) ?\)"),
    re.compile(r"\{ ?(\.|(?i:dot)|@|(?i:at)) ?\}"),
)
_SEP_VALUE = {".": ".", "dot": ".", ":": ":", "://": "://", "//": "//", "/": "/", "@": "@", "at": "@"}


def _label(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def _bracket_edits_as_first_written(text: str) -> list[tuple[int, int, str]]:
    edits = []
    n = len(text)
    for pattern in _BRACKETED_FORWARD:
        for m in pattern.finditer(text):
            start, end = m.span()
            sep = m[1].lower()
            before = text[start - 1] if start else ""
            after = text[end] if end < n else ""
            # One space either side is swallowed ("evil [.] com") when a label character is beyond it.
            space_left = before == " " and start > 1 and _label(text[start - 2])
            space_right = after == " " and end + 1 < n and _label(text[end + 1])
            # "(at)" or "(.)" only between address characters, so prose in brackets stays prose.
            if sep in ("at", "dot", "@", ".") and not (
                (space_left or (before != "" and _label(before))) and (space_right or (after != "" and _label(after)))
            ):
                continue
            edits.append((start - space_left, end + space_right, _SEP_VALUE[sep]))
    return edits


_DEFANGED = st.lists(
    st.sampled_from(["[.]", "(.)", "{.}", "[dot]", "(DoT)", "[ . ]", "( at )", "[@]", "{at}", "[://]", "[//]"])
    | st.sampled_from(["[:]", "(:)", "[/]", "{:}", "[", "]", "(", ")", " ", "  ", "\n", "a", "7", "_", "-", "é", "."]),
    max_size=12,
).map("".join)


@settings(max_examples=600, deadline=None)
@given(text=_DEFANGED)
def test_bracket_patterns_accept_what_the_rules_as_first_written_accept(text: str) -> None:
    # The acceptance rules moved into look-arounds of the patterns, so only accepted edits reach Python.
    assert defang.bracket_edits(text) == _bracket_edits_as_first_written(text)


_NOISY = st.lists(
    _indicators
    | st.sampled_from([" ", "  ", "\n", "\n\n", "\t", "\r\n", "\x0b", "\u00a0", "\u2003", "é", "Ж", "word", ", "]),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_NOISY)
def test_context_is_the_window_around_the_written_form_with_whitespace_collapsed(text: str) -> None:
    # Sixty characters either side of the written form, every whitespace run one space, stripped: whatever
    # mix of tabs, line breaks, non-ASCII spaces and letters the window holds.
    for f in extract(text):
        assert f.context == " ".join(text[max(0, f.start - 60) : f.end + 60].split())


@settings(max_examples=300, deadline=None)
@given(text=_DEFANGED, positions=st.lists(st.integers(min_value=0, max_value=200), max_size=12))
def test_offsets_of_many_spans_agree_with_one_at_a_time_in_any_order(text: str, positions: list[int]) -> None:
    fanged, offsets = defang.refang(f"evil{text}site[.]com {text} hxxp[:]//x")
    spans = [(min(a, len(fanged)), min(a + 3, len(fanged))) for a in positions]
    starts, ends = offsets.original_spans([s for s, _ in spans], [e for _, e in spans])
    assert starts == [offsets.start(s) for s, _ in spans]
    assert ends == [offsets.end(e) for _, e in spans]


def test_findings_are_the_same_when_the_per_value_caches_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    text = " ".join(f"h{i}.evil-site.com 10.0.{i}.7 https://c{i}.example.org/a{i}.php" for i in range(40))
    expected = extract(text)
    monkeypatch.setattr(scan, "_CACHE_MAX", 5)
    scan._DOTTED_CACHE.clear()
    scan._URL_CACHE.clear()
    assert extract(text) == expected
    assert len(scan._DOTTED_CACHE) <= 6
    assert len(scan._URL_CACHE) <= 6
