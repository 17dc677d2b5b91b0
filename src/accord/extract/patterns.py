"""Precompiled indicator regexes and the validators that decide what a candidate token is.

classify_dotted, trim_url and url_parts are not cached here: the scanners cache their findings per value in
dicts, so an inner cache would be one more lookup and insertion per new value that nothing reads again
(bench_extract.py, dense text, first run).
"""

from __future__ import annotations

import functools
import ipaddress
import pickle
import re
from pathlib import Path
from typing import Any

# One scan finds every candidate. Each alternative starts at a token boundary (the look-behind), so the
# engine gives up on most positions after one or two character tests; none nests unbounded quantifiers.
TOKEN = re.compile(
    r"(?<![\w.@$%-])(?:"
    r"(?P<url>(?:https?|ftps?|sftp)://[^\s<>\"'`{}|\\^]+)"
    r"|(?P<email>[\w+-][\w.+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)"
    r"|(?P<reg>(?:HKEY_[A-Z_]{4,22}|HKLM|HKCU|HKCR|HKU|HKCC):?(?:\\(?:[^\\\s\"'<>|,;]+"
    r"(?: [A-Z0-9({][^\\\s\"'<>|,;]*)*(?=\\)|[^\\\s\"'<>|,;]+))+)"
    r"|(?P<technique>T\d{4}(?:\.\d{3})?(?!\w|\.\d))"
    r"|(?P<dotted>[\w-]{1,63}(?:\.[\w-]{1,63})+(?:/\d{1,2}(?!\d|\.\d))?)"
    r"|(?P<hex>[0-9A-Fa-f]{32,128}(?![\w-]))"
    r"|(?<!:)(?P<ipv6>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?:/\d{1,3})?(?![\w:]))"
    r"|(?P<cve>[Cc][Vv][Ee][-\u2010\u2011 ]\d{4}-\d{4,7}(?!\d))"
    r"|(?P<asn>AS(?:N ?| )?\d{1,10}(?!\d))"
    r"|(?P<btc>[13][1-9A-HJ-NP-Za-km-z]{25,34}(?!\w)|(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71}(?!\w))"
    r")"
)

FILE_EXTENSIONS = frozenset(
    """exe dll sys scr cpl ocx drv efi ps1 psm1 psd1 bat cmd vbs vbe js jse wsf wsh hta msi msp msc lnk url
    inf reg zip rar 7z gz tgz bz2 xz tar cab iso img vhd vhdx doc docx docm dot dotm xls xlsx xlsm xlsb
    xll ppt pptx pptm rtf pdf one chm jar apk ipa dex elf bin dat sh py rb php asp aspx jsp war so dylib
    pkg dmg deb rpm txt log tmp csv json xml html htm svg lua go wasm ko dmp ini cfg conf""".split()  # noqa: SIM905 - a word list reads better as text
)
# Extensions that are also top-level domains (zip, sh, py, md, mov, one, so) make a file name outside URLs;
# pl, rs and app are left to domains, which reports mention far more often than Perl, Rust or macOS bundles.
_FILE_NOT_DOMAIN = FILE_EXTENSIONS | {"md", "mov", "mp4"}
# Framework names shaped like files or domains ("Node.js", "ASP.NET").
_NOT_INDICATORS = frozenset(
    {
        "node.js",
        "vue.js",
        "next.js",
        "nuxt.js",
        "react.js",
        "express.js",
        "d3.js",
        "three.js",
        "chart.js",
        "socket.io",
        "asp.net",
        "vb.net",
        "ado.net",
        "e.g",
        "i.e",
    }
)
_VERSION = re.compile(r"[vV]?\d+(?:\.\d+)+(?:-\w+)?")
_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"(?:{_HOST_LABEL}\.)*{_HOST_LABEL}")  # every label a host label
_URL_TRAIL = ".,;:!?'\"*>"
HIVES = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
}
_FULL_HIVES = frozenset(HIVES.values()) | {"HKEY_PERFORMANCE_DATA", "HKEY_DYN_DATA"}


@functools.cache
def _tld() -> Any:
    """tldextract over its bundled snapshot: imported only for hosts outside the plain-host path (punycode...)."""
    import tldextract  # here, not at the top: its import (requests, filelock) is most of a small extraction's start-up

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


# Hosts that tldextract would take as they are (no punycode, ports, user info or trailing dot): these are looked
# up in its suffix rules directly, which skips its URL parsing (bench_extract.py, dense text).
_PLAIN_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")
_SUFFIX_CACHE_FORMAT = b"1"


def _build_suffix_rules() -> tuple[frozenset[str], frozenset[str]]:
    rules = frozenset(_tld().tlds)
    tails = frozenset(".".join(labels[i:]) for labels in (r.split(".") for r in rules) for i in range(len(labels)))
    return rules, tails


def _load_suffix_rules(data: bytes) -> tuple[frozenset[str], frozenset[str]]:
    found = pickle.loads(data)  # noqa: S301 - written by _suffix_rules into the node's own var/ folder
    if not (isinstance(found, tuple) and len(found) == 2 and all(isinstance(f, frozenset) for f in found)):
        raise TypeError("not a pair of suffix sets")
    return found[0], found[1]


def _suffix_cache_file() -> Path:
    """var/cache file of the suffix sets, named by tldextract's snapshot and version files and this module."""
    from accord.core.cache import cache_path, package_files  # here: settings load when a host is classified

    parts = [_SUFFIX_CACHE_FORMAT, Path(__file__).read_bytes()]
    return cache_path("public-suffixes", *parts, *package_files("tldextract", ".tld_set_snapshot", "_version.py"))


@functools.cache
def _suffix_rules() -> tuple[frozenset[str], frozenset[str]]:
    """(rules, every rule's label suffixes) of the bundled public suffix list's ICANN section.

    Kept in var/cache: building them imports tldextract and parses its snapshot, which a small extraction
    would otherwise pay on every call (bench_extract_startup.py).
    """
    from accord.core.cache import load_or_build

    return load_or_build(
        _suffix_cache_file(),
        _build_suffix_rules,
        lambda built: pickle.dumps(built, protocol=pickle.HIGHEST_PROTOCOL),
        _load_suffix_rules,
    )


def _suffix_start(labels: list[str]) -> int:
    """Index of the first label of the public suffix, len(labels) if none; tldextract's own walk, right to left."""
    rules, tails = _suffix_rules()
    start = len(labels)
    tail = ""
    for i in range(len(labels) - 1, -1, -1):
        candidate = f"{labels[i]}.{tail}" if tail else labels[i]
        if candidate in tails:
            tail = candidate
            if candidate in rules:
                start = i
            continue
        if (f"*.{tail}" if tail else "*") in rules:
            return i + 1 if f"!{candidate}" in rules else i
        break
    return start


@functools.lru_cache(maxsize=65536)
def registered_domain(host: str) -> bool:
    """True when host ends in a public suffix (bundled snapshot, offline) with a name before it."""
    if _PLAIN_HOST.fullmatch(host) and "xn--" not in host:
        labels = host.split(".")
        start = _suffix_start(labels)
        return 0 < start < len(labels)
    parts = _tld()(host)
    return bool(parts.suffix and parts.domain)


def classify_dotted(token: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(type, value, flags) for a dotted token: IPv4, CIDR, file name or domain; None for anything else."""
    lower = token.lower()
    if lower in _NOT_INDICATORS:
        return None
    if "/" in token:
        addr, _, bits = token.partition("/")
        ip = ipv4(addr)
        if ip is None or int(bits) > 32:
            return None
        net = ipaddress.IPv4Network(token, strict=False)
        return "ipv4-cidr", token, () if net.is_global else ("private",)
    if token[0].isdigit() or token[0] in "vV":
        found = _ipv4_finding(token)
        if found is not None:
            return found
        if _VERSION.fullmatch(token):
            return None
    last = token.rsplit(".", 1)[1]
    ext = last.lower()
    if ext in FILE_EXTENSIONS or ext in _FILE_NOT_DOMAIN:
        return "file-name", token, ()
    if "_" in token or not registered_domain(lower):
        return None
    # "System.Net" is code, not a host: a written domain has its TLD all lower or all upper case.
    if not (last.islower() or last.isupper()):
        return None
    if not _HOST_NAME.fullmatch(lower):
        return None
    return "domain-name", lower, ()


@functools.lru_cache(maxsize=65536)
def classify_host(host: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(type, value, flags) for a URL host: a domain (whatever its suffix), an IPv4 or IPv6 address."""
    if ":" in host:
        got = classify_ipv6(host)
        return got if got is not None and got[0] == "ipv6-addr" else None
    found = _ipv4_finding(host)
    if found is not None:
        return found
    if "." not in host or "_" in host or not registered_domain(host):
        return None
    if not _HOST_NAME.fullmatch(host):
        return None
    return "domain-name", host, ()


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
# First octets of the IANA special-purpose ranges (RFC 6890 and its updates) and multicast: every other address
# is global, so only these need ipaddress's test (bench_extract.py, dense text).
_SPECIAL_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, *range(224, 256)})


@functools.lru_cache(maxsize=65536)
def ipv4(text: str) -> ipaddress.IPv4Address | None:
    """The address if text is a dotted-quad IPv4 address (no leading zeros), else None."""
    return ipaddress.IPv4Address(text) if _IPV4.fullmatch(text) else None


def _ipv4_finding(text: str) -> tuple[str, str, tuple[str, ...]] | None:
    if not _IPV4.fullmatch(text):
        return None
    if int(text[: text.index(".")]) not in _SPECIAL_FIRST_OCTETS:
        return "ipv4-addr", text, ()
    return "ipv4-addr", text, () if ipaddress.IPv4Address(text).is_global else ("private",)


@functools.lru_cache(maxsize=65536)
def classify_ipv6(token: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(type, value, flags) for an IPv6 address or CIDR candidate, or None."""
    addr, slash, bits = token.partition("/")
    if addr.count(":") < 2 or (":::" in addr):
        return None
    try:
        ip = ipaddress.IPv6Address(addr)
    except ValueError:
        return None
    flags = () if ip.is_global else ("private",)
    if slash:
        if not bits or int(bits) > 128:
            return None
        return "ipv6-cidr", f"{ip.compressed}/{int(bits)}", flags
    return "ipv6-addr", ip.compressed, flags


def trim_url(url: str) -> str:
    """Drop trailing sentence punctuation and unbalanced closing brackets from a URL."""
    while url:
        last = url[-1]
        if (
            last in _URL_TRAIL
            or (last == ")" and url.count("(") < url.count(")"))
            or (last == "]" and url.count("[") < url.count("]"))
        ):
            url = url[:-1]
        else:
            break
    return url


_NETLOC_END = re.compile(r"[/?#]")


def _split_url(url: str) -> tuple[str, str, str]:
    """(scheme, network location, the rest) of a URL with "://"."""
    scheme, rest = url.split("://", 1)
    end = _NETLOC_END.search(rest)
    cut = end.start() if end else len(rest)
    return scheme, rest[:cut], rest[cut:]


def _host(netloc: str) -> str:
    """The host of a network location (without user info, port or brackets), lower-cased."""
    netloc = netloc.rsplit("@", 1)[-1]
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0].lower()
    return netloc.rsplit(":", 1)[0].lower() if netloc.count(":") == 1 else netloc.lower()


@functools.lru_cache(maxsize=65536)
def normalise_url(url: str) -> str:
    """The URL with its scheme and network location lower-cased (they are case-insensitive); path kept."""
    scheme, netloc, path = _split_url(url)
    return f"{scheme.lower()}://{netloc.lower()}{path}"


@functools.lru_cache(maxsize=65536)
def url_host(url: str) -> str:
    """The host part of a URL (without user info, port or brackets), lower-cased."""
    return _host(_split_url(url)[1])


def url_parts(url: str) -> tuple[str, int, int, str, str, tuple[str, ...]] | None:
    """(normalised URL, host start and end in the URL, host type, value and flags), or None without a valid host."""
    scheme, netloc, path = _split_url(url)
    host = _host(netloc)
    if not host:
        return None
    # The host is lower-cased, so it is looked for in the URL as lower-cased ASCII ('?' for other characters).
    start = url.encode("ascii", "replace").lower().find(host.encode("ascii", "replace"))
    got = classify_host(host) if start >= 0 else None
    if got is None:
        return None
    return f"{scheme.lower()}://{netloc.lower()}{path}", start, start + len(host), got[0], got[1], got[2]


@functools.lru_cache(maxsize=65536)
def normalise_registry(key: str) -> str | None:
    """Registry key with its hive spelled out (HKLM -> HKEY_LOCAL_MACHINE), trailing punctuation dropped."""
    key = key.rstrip(".,;:)'\"")
    hive, _, path = key.partition("\\")
    hive = hive.rstrip(":")
    full = HIVES.get(hive, hive)
    if full not in _FULL_HIVES or not path:
        return None
    return f"{full}\\{path}"


def classify_hex(token: str) -> str | None:
    """Hash type for a hex run of a hash's exact length that mixes digits and letters, else None."""
    kind = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}.get(len(token))
    if kind is None or token.isdigit() or token.isalpha():
        return None
    return kind
