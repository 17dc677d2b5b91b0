"""Value-index rows: normalisation of every kind, IP ranges, domain keys and parents."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.correlate.observables import url_host, url_rows
from accord.correlate.values import (
    IndexValue,
    domain_key,
    domain_key_range,
    domain_parents,
    ip_range_bounds,
    normalize,
    registered_domain,
    values_of,
)

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def one(kind_hint: str | None, raw: str) -> IndexValue:
    rows = normalize(kind_hint, raw)
    assert len(rows) == 1, rows
    return rows[0]


# ------------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("1.2.3[.]4", "ip", "1.2.3.4"),
        ("10.1.2.3/8", "ip", "10.0.0.0/8"),
        ("2001:0DB8:0000::0001", "ip", "2001:db8::1"),
        ("evil(dot)com", "domain", "evil.com"),
        ("Evil.COM.", "domain", "evil.com"),
        ("www[.]evil[.]com", "domain", "www.evil.com"),
        ("bücher.DE", "domain", "xn--bcher-kva.de"),
        ("AS 13335", "asn", "AS13335"),
        ("as13335", "asn", "AS13335"),
        ("cve-2021-44228", "cve", "CVE-2021-44228"),
        ("D41D8CD98F00B204E9800998ECF8427E", "hash:md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "hash:sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("E3B0C442" + "0" * 56, "hash:sha256", "e3b0c442" + "0" * 56),
        ("A" * 128, "hash:sha512", "a" * 128),
        (
            "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C",
            "hash:ssdeep",
            "3:axgbicflgvnhbgcl6wcrfqev:axghsnhxlsr2c",  # hashes are compared lower-case, ssdeep too
        ),
        ("Bob[@]Example[.]COM", "email", "bob@example.com"),
        ("HKLM\\Software\\Run", "registry-key", "hkey_local_machine\\software\\run"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    ],
)
def test_normalize_detects_kind_and_normalises(raw: str, kind: str, value: str) -> None:
    row = one(None, raw)
    assert (row.kind, row.value, row.correlating) == (kind, value, True)


@pytest.mark.parametrize("raw", ["", "   ", "foo", "not a thing at all", "1.2.3", "999.1.1.1"])
def test_normalize_returns_nothing_for_unclassifiable_input(raw: str) -> None:
    assert normalize(None, raw) == []


def test_defanged_url_yields_url_and_host_rows() -> None:
    rows = normalize(None, "hxxp://evil[.]com/a")
    assert [(r.kind, r.value) for r in rows] == [("url", "http://evil.com/a"), ("domain", "evil.com")]


def test_url_normalisation_rules() -> None:
    url, host = normalize(None, "HXXPS://Evil.COM:443/Path?q=A#frag")
    assert url.value == "https://evil.com/Path?q=A"  # scheme/host lower, default port and fragment dropped
    assert host == IndexValue("domain", "evil.com", "com.evil.")
    assert normalize(None, "http://evil.com:8080")[0].value == "http://evil.com:8080/"
    assert normalize("url", "evil.com/x")[0].value == "http://evil.com/x"


def test_url_with_address_host_yields_ip_row() -> None:
    url, host = normalize(None, "http://[2001:DB8::1]:8080/x")
    assert url.value == "http://[2001:db8::1]:8080/x"
    assert (host.kind, host.key) == ("ip", "2001:db8::1")
    assert normalize(None, "http://1.2.3.4/x")[1].kind == "ip"


def test_kind_hints() -> None:
    assert one("x509-serial", "00:AB:CD").value == "abcd"
    assert one("user-agent", " Mozilla/5.0 ").value == "Mozilla/5.0"
    assert one("mutex", "Global\\Evil").value == "Global\\Evil"
    assert one("file-name", "EVIL.exe") == IndexValue("file-name", "EVIL.exe", "evil.exe")
    assert one("hash", "D41D8CD98F00B204E9800998ECF8427E").kind == "hash:md5"
    assert one("asn", "13335").key == "AS13335"
    assert normalize("cve", "not-a-cve") == []
    assert normalize("ip", "evil.com") == []


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HKLM\\Software\\Run", "hkey_local_machine\\software\\run"),
        ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Run", "hkey_local_machine\\software\\run"),
        ("hkcu\\Software\\\\X\\", "hkey_current_user\\software\\x"),
        ("HKCR\\.exe", "hkey_classes_root\\.exe"),
        ("HKU\\S-1-5-18", "hkey_users\\s-1-5-18"),
        ("\\REGISTRY\\MACHINE\\Software", "hkey_local_machine\\software"),
    ],
)
def test_registry_abbreviations_expand_to_one_form(raw: str, canonical: str) -> None:
    assert one("registry-key", raw).key == canonical


# ------------------------------------------------------------------------------------------ IP ranges


def test_ip_bounds_are_fixed_width_with_family_prefix() -> None:
    assert ip_range_bounds("1.2.3.4") == ("4:01020304", "4:01020304")
    assert ip_range_bounds("10.0.0.0/8") == ("4:0a000000", "4:0affffff")
    assert ip_range_bounds("::1") == ("6:" + "0" * 31 + "1",) * 2
    assert ip_range_bounds("1.2.3.4/32") == ("4:01020304", "4:01020304")
    assert ip_range_bounds("1.2.3.4/33") is None
    assert ip_range_bounds("evil.com") is None
    assert one(None, "1.2.3.4/32").key == "1.2.3.4"


def test_cidr_host_bits_are_cleared() -> None:
    row = one("ip", "192.168.1.77/16")
    assert (row.key, row.lo, row.hi) == ("192.168.0.0/16", "4:c0a80000", "4:c0a8ffff")
    row6 = one("ip", "2001:DB8::1/32")
    assert row6.key == "2001:db8::/32"
    assert row6.lo == "6:20010db8" + "0" * 24
    assert row6.hi == "6:20010db8" + "f" * 24


def _bounds(row: IndexValue) -> tuple[str, str]:
    assert row.lo is not None
    assert row.hi is not None
    return row.lo, row.hi


def _inside(inner: IndexValue, outer: IndexValue) -> bool:
    (ilo, ihi), (olo, ohi) = _bounds(inner), _bounds(outer)
    return olo <= ilo and ihi <= ohi


def _overlap(a: IndexValue, b: IndexValue) -> bool:
    (alo, ahi), (blo, bhi) = _bounds(a), _bounds(b)
    return alo <= bhi and blo <= ahi


def test_containment_and_overlap_on_encoded_strings() -> None:
    net8, net16, net24 = one("ip", "10.0.0.0/8"), one("ip", "10.1.0.0/16"), one("ip", "11.0.0.0/24")
    assert _inside(one("ip", "10.1.2.3"), net8)
    assert not _inside(one("ip", "11.0.0.1"), net8)
    assert _inside(net16, net8)
    assert _overlap(net8, net16)
    assert not _overlap(net8, net24)
    # The families never mix: every IPv4 bound sorts before every IPv6 bound.
    assert one("ip", "255.255.255.255").hi < one("ip", "::").lo


ipv4_nets = st.builds(
    lambda a, p: ipaddress.ip_network((a, p), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
ipv6_nets = st.builds(
    lambda a, p: ipaddress.ip_network((a, p), strict=False),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)


@given(net=st.one_of(ipv4_nets, ipv6_nets), offset=st.integers(0, 2**128))
def test_an_address_is_inside_its_network_by_text_comparison(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, offset: int
) -> None:
    address = net.network_address + offset % net.num_addresses
    outer, inner = one("ip", str(net)), one("ip", str(address))
    assert _inside(inner, outer)
    assert ipaddress.ip_address(inner.key) == address
    assert "." not in inner.key or address.version == 4  # IPv6 keys are all-hex compressed text
    assert ipaddress.ip_network(outer.key) == net


@given(a=st.integers(0, 2**32 - 1), b=st.integers(0, 2**32 - 1))
def test_encoded_ipv4_order_is_numeric_order(a: int, b: int) -> None:
    ra, rb = one("ip", str(ipaddress.IPv4Address(a))), one("ip", str(ipaddress.IPv4Address(b)))
    assert (ra.lo < rb.lo) == (a < b)


# ------------------------------------------------------------------------------------------ domains


def test_domain_key_reverses_labels() -> None:
    assert domain_key("a.evil.com") == "com.evil.a."
    assert one(None, "A.Evil.Com").key == "com.evil.a."


def test_domain_key_range_holds_exactly_the_name_and_its_subdomains() -> None:
    lo, hi = domain_key_range("evil.com")
    inside = ["evil.com", "a.evil.com", "x.y.evil.com"]
    outside = ["evil.co", "notevil.com", "evil-x.com", "evila.com", "com", "evil.com.au"]
    assert all(lo <= domain_key(n) < hi for n in inside)
    assert not any(lo <= domain_key(n) < hi for n in outside)


def test_domain_parents_stop_at_the_registrable_domain() -> None:
    assert domain_parents("a.b.evil.co.uk") == ["b.evil.co.uk", "evil.co.uk"]
    assert domain_parents("evil.co.uk") == []
    assert domain_parents("co.uk") == []
    assert domain_parents("www.evil.com.") == ["evil.com"]
    assert registered_domain("a.b.evil.co.uk") == "evil.co.uk"
    assert registered_domain("co.uk") is None
    # Hosting tenants are registrable domains of their own: one never becomes another's parent.
    assert domain_parents("x.tenant.github.io") == ["tenant.github.io"]


@given(st.lists(st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True), min_size=1, max_size=5))
def test_co_uk_and_uk_are_never_parents(labels: list[str]) -> None:
    parents = domain_parents(".".join([*labels, "co", "uk"]))
    assert "co.uk" not in parents
    assert "uk" not in parents


def test_tldextract_uses_the_bundled_snapshot_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from accord.correlate import observables

    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    observables._tld_extractor.cache_clear()
    registered_domain.cache_clear()
    assert registered_domain("a.b.evil.co.uk") == "evil.co.uk"
    extractor = observables._tld_extractor()
    assert extractor.suffix_list_urls == ()  # nothing to fetch
    assert not extractor._cache.enabled  # nothing written to disk either


# ------------------------------------------------------------------------------------------ SCOs


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"type": "ipv4-addr", "value": "10.1.2.3/8"}, [("ip", "10.0.0.0/8")]),
        ({"type": "ipv6-addr", "value": "2001:DB8:0::1"}, [("ip", "2001:db8::1")]),
        ({"type": "domain-name", "value": "A.Evil.COM."}, [("domain", "com.evil.a.")]),
        (
            {"type": "url", "value": "http://Evil.com/x"},
            [("url", "http://evil.com/x"), ("domain", "com.evil.")],
        ),
        ({"type": "email-addr", "value": "Bob@Example.COM"}, [("email", "bob@example.com")]),
        ({"type": "mutex", "name": "Global\\M"}, [("mutex", "Global\\M")]),
        ({"type": "windows-registry-key", "key": "HKLM\\X"}, [("registry-key", "hkey_local_machine\\x")]),
        ({"type": "autonomous-system", "number": 13335}, [("asn", "AS13335")]),
        ({"type": "artifact", "hashes": {"SHA-256": "AB" * 32}}, [("hash:sha256", "ab" * 32)]),
        (
            {"type": "x509-certificate", "serial_number": "00:0a:ff", "hashes": {"SHA-1": "C" * 40}},
            [("hash:sha1", "c" * 40), ("x509-serial", "aff")],
        ),
        (
            {
                "type": "network-traffic",
                "extensions": {"http-request-ext": {"request_header": {"User-Agent": "curl/8"}}},
            },
            [("user-agent", "curl/8")],
        ),
        ({"type": "network-traffic", "dst_port": 80}, []),
        ({"type": "x-custom", "value": "1.2.3.4"}, []),
        ({"type": "malware", "name": "evil.com"}, []),
        (
            {
                "type": "vulnerability",
                "name": "CVE-2021-44228",
                "external_references": [{"source_name": "cve", "external_id": "cve-2021-44228"}],
            },
            [("cve", "CVE-2021-44228")],
        ),
    ],
)
def test_sco_rows(obj: dict[str, object], expected: list[tuple[str, str]]) -> None:
    assert [(r.kind, r.key) for r in values_of(obj)] == expected


def test_file_hashes_by_algorithm_deduplicated() -> None:
    rows = values_of(
        {
            "type": "file",
            "name": "Evil.EXE",
            "hashes": {"MD5": "D41D8CD98F00B204E9800998ECF8427E", "SHA-256": "ab" * 32, "SHA256": "AB" * 32},
        }
    )
    assert sorted((r.kind, r.key) for r in rows) == [
        ("file-name", "evil.exe"),
        ("hash:md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("hash:sha256", "ab" * 32),
    ]


def test_rows_are_never_duplicated() -> None:
    rows = values_of({"type": "url", "value": "http://evil.com/"})
    assert len(rows) == len(set(rows))


@pytest.mark.parametrize(
    ("raw", "obj"),
    [
        ("1.2.3[.]4", {"type": "ipv4-addr", "value": "1.2.3.4"}),
        ("2001:DB8:0:0::1", {"type": "ipv6-addr", "value": "2001:db8::1"}),
        ("WWW.Evil[.]com.", {"type": "domain-name", "value": "www.evil.com"}),
        ("bücher.de", {"type": "domain-name", "value": "BÜCHER.de"}),
        ("hxxps://evil[.]com:443/a#x", {"type": "url", "value": "https://EVIL.com/a"}),
        ("bob(at)evil.com", {"type": "email-addr", "value": "Bob@Evil.com"}),
        ("AS13335", {"type": "autonomous-system", "number": 13335}),
        ("3:AbC:dEf", {"type": "file", "hashes": {"SSDEEP": "3:AbC:dEf"}}),
        (EMPTY_MD5.upper(), {"type": "file", "hashes": {"MD5": EMPTY_MD5}}),
        ("HKEY_CURRENT_USER\\Run", {"type": "windows-registry-key", "key": "hkcu\\run"}),
    ],
)
def test_lookup_of_raw_input_finds_the_stored_rows(raw: str, obj: dict[str, object]) -> None:
    stored = {(r.kind, r.key) for r in values_of(obj)}
    looked_up = {(r.kind, r.key) for r in normalize(None, raw)}
    assert looked_up
    assert looked_up <= stored


KINDS = {"ip", "domain", "url", "email", "asn", "cve", "bitcoin", "registry-key"}


@given(st.text(max_size=80))
def test_normalize_never_raises_and_rows_are_well_formed(raw: str) -> None:
    for row in normalize(None, raw):
        assert row.kind in KINDS or row.kind.startswith("hash:")
        assert row.correlating
        assert row.key
        if row.kind == "domain":
            assert row.key == domain_key(row.value)
        if row.kind == "ip":
            assert row.lo is not None
            assert row.hi is not None
            assert row.lo <= row.hi


@given(
    st.sampled_from(["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file", "indicator"]),
    st.one_of(st.text(max_size=40), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=2)),
)
def test_values_of_never_raises_on_odd_property_values(obj_type: str, junk: object) -> None:
    obj = {"type": obj_type, "value": junk, "name": junk, "hashes": junk, "pattern": junk, "number": junk}
    assert isinstance(values_of(obj), list)


@pytest.mark.parametrize(
    "raw",
    [
        "https://www.Example.com/a?b=c",
        "hxxp://evil[.]com/gate.php",
        "http://185.220.101.47:8080/x",
        "http://[2001:db8::1]/x",
        "http://[not-v6]/x",
        "http://1.2.3.999/x",  # ends in a digit, not an address: a domain name
        "ftp://user:pw@files.example.org/f",
        "http:///nohost",
        "not a url",
        "https://bücher.example/",
        "http://exa mple.com/",
    ],
)
def test_url_host_is_the_host_row_of_url_rows(raw: str) -> None:
    rows = url_rows(raw)
    assert url_host(raw) == ((rows[1].kind, rows[1].value) if rows else None)
