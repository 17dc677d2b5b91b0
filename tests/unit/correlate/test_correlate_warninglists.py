"""Warninglist hits from the bundled MISP lists: private ranges, resolvers, top sites, clouds, hashes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from accord.core import settings as core_settings
from accord.core.cache import Sections
from accord.correlate.indexer import display_value, index_entries, listed_values
from accord.correlate.packed import PROBES, PackedTable, pack_table
from accord.correlate.values import normalize, values_of
from accord.correlate.warninglists import (
    DEFAULT_EXCLUDED,
    WarninglistMatcher,
    bundled_slugs,
    get_matcher,
    load_list,
)

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.fixture(scope="module")
def matcher() -> WarninglistMatcher:
    return get_matcher()


def name_of(slug: str) -> str:
    return str(load_list(slug)["name"])


@pytest.mark.parametrize(
    ("kind", "value", "slug"),
    [
        ("ip", "10.1.2.3", "rfc1918"),
        ("ip", "192.168.0.1", "rfc1918"),
        ("ip", "10.0.0.0/16", "rfc1918"),
        ("ip", "8.8.8.8", "public-dns-v4"),
        ("ip", "1.1.1.1", "public-dns-v4"),
        ("ip", "2001:4860:4860::8888", "public-dns-v6"),
        ("domain", "google.com", "google"),
        ("domain", "www.google.com", "tranco10k"),
        ("url", "https://www.google.com/search?q=x", "tranco10k"),
        ("hash:md5", EMPTY_MD5, "empty-hashes"),
        ("hash:sha256", EMPTY_SHA256, "empty-hashes"),
        ("email", "someone@mailinator.com", "disposable-email"),
    ],
)
def test_known_benign_values_hit(matcher: WarninglistMatcher, kind: str, value: str, slug: str) -> None:
    assert name_of(slug) in matcher.hits(kind, value)


@pytest.mark.parametrize("slug", ["amazon-aws", "cloudflare"])
def test_an_address_inside_a_cloud_range_hits(matcher: WarninglistMatcher, slug: str) -> None:
    # Take the first IPv4 range the bundled list holds, and an address from its middle.
    cidr = next(e for e in load_list(slug)["list"] if "." in e and "/" in e)
    row = normalize("ip", cidr)[0]
    assert row.lo is not None
    middle = int(row.lo[2:], 16) + 1
    address = ".".join(str(middle >> shift & 255) for shift in (24, 16, 8, 0))
    assert name_of(slug) in matcher.hits("ip", address)


def test_unknown_values_have_no_hits(matcher: WarninglistMatcher) -> None:
    assert matcher.hits("ip", "10.0.0.0/7") == []  # a range hits only when wholly inside a list's ranges
    assert matcher.hits("mutex", "Global\\nothing") == []
    assert matcher.hits("hash:md5", "0123456789abcdef0123456789abcdef") == []
    assert matcher.hits("domain", "surely-not-a-listed-domain-4711.com") == []


def test_hostname_lists_match_subdomains_but_string_lists_do_not(matcher: WarninglistMatcher) -> None:
    hostname_list = name_of("tranco10k")  # type "hostname"
    assert hostname_list in matcher.hits("domain", "deep.sub.www.google.com")
    assert name_of("google") not in matcher.hits("domain", "deep.sub.www.google.com")  # type "string"


def test_hits_are_unique(matcher: WarninglistMatcher) -> None:
    found = matcher.hits("domain", "www.google.com")
    assert len(found) == len(set(found))


def test_defaults_leave_out_the_million_entry_lists(matcher: WarninglistMatcher) -> None:
    names = set(matcher.list_names())
    assert name_of("rfc1918") in names
    assert set(bundled_slugs()) >= DEFAULT_EXCLUDED
    assert len(names) == len(bundled_slugs()) - len(DEFAULT_EXCLUDED)


def test_enabled_lists_by_folder_or_name() -> None:
    by_slug = WarninglistMatcher(["rfc1918"])
    by_name = WarninglistMatcher([name_of("rfc1918")])
    assert by_slug.list_names() == by_name.list_names() == (name_of("rfc1918"),)
    assert by_slug.hits("ip", "10.1.2.3") == [name_of("rfc1918")]
    assert by_slug.hits("ip", "8.8.8.8") == []
    assert WarninglistMatcher([]).hits("ip", "10.1.2.3") == []


def test_get_matcher_is_shared() -> None:
    assert get_matcher(("rfc1918",)) is get_matcher(("rfc1918",))


def test_bad_values_do_not_raise(matcher: WarninglistMatcher) -> None:
    assert matcher.hits("ip", "not-an-ip") == []
    assert matcher.hits("ip", "1.2.3.4/99") == []
    assert matcher.hits("url", "not a url") == []
    assert matcher.hits("unknown-kind", "x") == []


class _RecordingSections(Sections):
    """Sections held in memory that note which ones are read."""

    def __init__(self, sections: dict[str, bytes]) -> None:
        super().__init__(Path("not-read"), {}, lambda: sections, sections)
        self.read: list[str] = []

    def get(self, name: str) -> bytes | None:
        self.read.append(name)
        return super().get(name)


def test_a_cached_matcher_answers_alike_and_reads_each_hash_table_on_its_first_lookup(
    matcher: WarninglistMatcher,
) -> None:
    # Processes load the matcher from var/cache; a hash table is read only when a value of its kind is looked up.
    store = _RecordingSections(matcher.to_sections())
    loaded = WarninglistMatcher.from_sections(store)
    assert store.read == ["meta"]
    assert loaded.hits("hash:sha256", EMPTY_SHA256) == matcher.hits("hash:sha256", EMPTY_SHA256)
    assert loaded.hits("hash:sha256", EMPTY_SHA256)  # it is on the empty-hashes list
    assert store.read == ["meta", "exact:hash:sha256"]
    assert loaded.hits("hash:md5", EMPTY_MD5) == matcher.hits("hash:md5", EMPTY_MD5)
    assert loaded.hits("hash:md5", "0" * 32) == matcher.hits("hash:md5", "0" * 32) == []
    assert store.read == ["meta", "exact:hash:sha256", "exact:hash:md5"]  # each read once
    sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert loaded.hits("hash:sha1", sha1) == matcher.hits("hash:sha1", sha1)
    for kind, value in [("ip", "10.1.2.3"), ("domain", "www.google.com"), ("email", "someone@mailinator.com")]:
        assert loaded.hits(kind, value) == matcher.hits(kind, value)


def test_a_cached_matcher_reads_only_the_tables_its_lookups_need(matcher: WarninglistMatcher) -> None:
    # A small report's process loads the cached matcher and looks up a URL and its host, nothing else.
    store = _RecordingSections(matcher.to_sections())
    loaded = WarninglistMatcher.from_sections(store)
    url, host = "https://www.google.com/search", "www.google.com"
    assert loaded.hits("url", url) == matcher.hits("url", url)
    assert loaded.hits("domain", host) == matcher.hits("domain", host)
    assert loaded.hits("domain", host)  # on a top-sites list: the suffix table was read
    assert "suffix" in store.read
    assert "ranges" not in store.read  # no address looked up
    assert not [name for name in store.read if name.startswith("exact:hash:")]
    cases = [("ip", "10.1.2.3"), ("ip", "192.168.0.0/24"), ("ip", "2001:db8::1"), ("ip", "8.8.8.8")]
    cases += [("email", "someone@mailinator.com"), ("url", "http://localhost/x"), ("domain", "example.com")]
    for kind, value in cases:
        assert loaded.hits(kind, value) == matcher.hits(kind, value), (kind, value)
    assert loaded.hits("ip", "10.1.2.3")
    assert store.read.count("ranges") == 1
    # Pickled after some tables were read: the copy holds every table and answers alike.
    again = pickle.loads(pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL))
    assert len(store.read) == len(set(store.read)) == len(store.names())
    for kind, value in [*cases, ("url", url), ("domain", host), ("hash:sha256", EMPTY_SHA256)]:
        assert again.hits(kind, value) == matcher.hits(kind, value), (kind, value)


def test_the_matcher_is_read_back_from_var_cache(
    matcher: WarninglistMatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    try:
        get_matcher.cache_clear()
        built = get_matcher()  # builds and writes the file
        assert list((tmp_path / "var" / "cache").glob("warninglists-*"))
        get_matcher.cache_clear()
        loaded = get_matcher()
        assert loaded is not built
        for kind, value in [("url", "https://www.google.com/x"), ("ip", "8.8.8.8"), ("hash:md5", EMPTY_MD5)]:
            assert loaded.hits(kind, value) == built.hits(kind, value) == matcher.hits(kind, value)
    finally:
        get_matcher.cache_clear()
        core_settings.get_settings.cache_clear()


def test_flags_name_each_value_as_its_index_row_displays_it(matcher: WarninglistMatcher) -> None:
    # Flags are read from the values themselves (listed_values): every value checked must be spelled as its index
    # row shows it (display_value), including a domain (keyed reversed) and a URL too long to key as is.
    long_url = "https://c2.badhost-accord.net/search?q=" + "x" * 600
    pattern = (
        f"[domain-name:value = 'WWW.Google.com'] OR [url:value = '{long_url}'] OR [ipv4-addr:value = '8.8.8.8']"
        f" OR [file:hashes.'SHA-256' = '{EMPTY_SHA256}']"
    )
    values = values_of({"type": "indicator", "pattern": pattern, "pattern_type": "stix"})
    shown = {(kind, display_value(kind, key, stored)) for kind, key, stored, *_ in index_entries(values)}
    checked = {(v.kind, v.value) for v in values if v.correlating and not v.kind.startswith("ref:")}
    assert ("url", long_url) in checked
    assert checked <= shown
    flags = listed_values(values, matcher)
    assert {(kind, value) for kind, value, _ in flags} == {
        ("domain", "www.google.com"),
        ("ip", "8.8.8.8"),
        ("hash:sha256", EMPTY_SHA256),
    }


def _many_values() -> list[tuple[str, str]]:
    """Listed and unlisted values of every kind the lists serve, URLs on listed and unlisted hosts among them."""
    pairs = [
        ("ip", "10.1.2.3"),
        ("ip", "8.8.8.8"),
        ("ip", "2001:4860:4860::8888"),
        ("ip", "10.0.0.0/16"),
        ("ip", "10.0.0.0/7"),
        ("ip", "not-an-ip"),
        ("ip", "185.220.101.47"),
        ("domain", "google.com"),
        ("domain", "deep.sub.www.google.com"),
        ("domain", "surely-not-a-listed-domain-4711.com"),
        ("domain", "localhost"),
        ("url", "https://www.google.com/search?q=x"),
        ("url", "http://8.8.8.8/dns"),
        ("url", "http://[2001:4860:4860::8888]/x"),
        ("url", "https://evil-4711.example/gate.php"),
        ("url", "http://localhost/x"),
        ("url", "not a url"),
        ("url", "HTTPS://WWW.GOOGLE.COM/UPPER"),
        ("email", "someone@mailinator.com"),
        ("email", "analyst@evil-4711.example"),
        ("hash:md5", EMPTY_MD5),
        ("hash:md5", "0123456789abcdef0123456789abcdef"),
        ("hash:sha256", EMPTY_SHA256),
        ("mutex", "Global\\nothing"),
    ]
    for slug in ("amazon-aws", "cloudflare", "tranco10k", "disposable-email"):  # some entries of real lists
        for entry in load_list(slug)["list"][:40]:
            if "/" in entry and ":" not in entry:
                pairs.append(("ip", entry))
            elif "@" in entry or slug == "disposable-email":
                pairs += [("email", f"user@{entry}"), ("domain", entry), ("url", f"http://{entry}/a")]
            else:
                pairs += [("domain", entry), ("domain", f"www.{entry}"), ("url", f"https://sub.{entry}/p?q=1")]
    return pairs


def test_many_values_at_once_hit_as_each_alone(matcher: WarninglistMatcher) -> None:
    pairs = _many_values()
    pairs += pairs[:10]  # repeated values
    many = matcher.hits_many(pairs)
    assert many == {n: names for n, (kind, value) in enumerate(pairs) if (names := matcher.hits(kind, value))}
    assert len(many) > 100  # the comparison covered real hits
    assert matcher.hits_many([]) == {}


def test_many_values_from_var_cache_hit_as_each_alone(matcher: WarninglistMatcher) -> None:
    pairs = _many_values()
    loaded = WarninglistMatcher.from_sections(_RecordingSections(matcher.to_sections()))
    assert loaded.hits_many(pairs) == matcher.hits_many(pairs)


def test_substrings_are_searched_one_by_one_when_a_value_holds_a_line_break(matcher: WarninglistMatcher) -> None:
    lists = matcher
    values = ["www.google.com", "a\nwww.google.com", "surely-not-listed-4711.com"]
    pairs = [("domain", value) for value in values]
    assert lists.hits_many(pairs) == {
        n: names for n, value in enumerate(values) if (names := lists.hits("domain", value))
    }


@pytest.mark.parametrize("odd_key", ["plain.example", "with\nbreak.example", "surrogate-\udcff.example", "ünï.example"])
def test_a_packed_table_answers_as_its_dict_before_and_after_it_is_unpacked(odd_key: str) -> None:
    table = {f"host{i}.example": (f"list {i % 7}",) for i in range(3000)}
    table[odd_key] = ("odd list", "other list")
    packed = PackedTable(pack_table(table))
    absent = ["", "host3000.example", "host1.exampl", "ost1.example", "\n", "host1.example\nhost2.example"]
    probes = [*absent, odd_key, *table, *absent]  # more look-ups than a packed table answers from its bytes
    assert len(probes) > 2 * PROBES
    expected = [table.get(key) for key in probes]
    assert [PackedTable(pack_table(table)).probe(key) for key in probes] == expected  # a batch probes only
    assert [packed.get(key) for key in probes] == expected
    assert packed.unpacked() == table
    assert PackedTable(pack_table({})).get("x") is None
