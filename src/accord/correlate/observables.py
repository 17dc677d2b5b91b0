"""Observable values normalised into value-index rows: per-kind rules, defanging and kind detection.

Every stored object yields rows ``(kind, value, key, lo, hi, correlating)``; correlation and lookup
are joins on ``(kind, key)`` or, for IP ranges, on ``lo``/``hi``. Keys and bounds are built so that plain
byte-wise text comparison (SQL ``COLLATE "C"``) gives the right order:

- ``ip``: ``lo``/``hi`` are ``"4:"`` + 8 hex digits or ``"6:"`` + 32 hex digits; an address has ``lo == hi``,
  and an address lies inside a CIDR exactly when ``cidr.lo <= ip.lo and ip.hi <= cidr.hi``.
- ``domain``: ``key`` is the reversed labels with a trailing dot (``a.evil.com`` -> ``com.evil.a.``), so every
  subdomain of a name is a key-prefix range scan (:func:`domain_key_range`).
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

# Building rows with tuple.__new__ skips NamedTuple's argument handling: rows are made per value on ingest.
_new = tuple.__new__


class IndexValue(NamedTuple):
    """One value-index row."""

    kind: str
    value: str
    key: str
    lo: str | None = None
    hi: str | None = None
    correlating: bool = True


# --------------------------------------------------------------------------------------------- defanging

_DEFANG_SCHEME = re.compile(r"(?:(h(?:xx|\*\*|\[tt\]|\[xx\])p|meow)|fxp)(s?)(?=\[?:)", re.IGNORECASE)
_DEFANG_BRACKETS = re.compile(r"\s*[\[\(\{<]\s*(\.|dot|:|://|@|at|/)\s*[\]\)\}>]\s*", re.IGNORECASE)
_DEFANG_MAP = {".": ".", "dot": ".", ":": ":", "://": "://", "@": "@", "at": "@", "/": "/"}
_DEFANG_HINT = frozenset("[({<\\")


def _bracket_repl(m: re.Match[str]) -> str:
    return _DEFANG_MAP[m.group(1).lower()]


def refang(text: str) -> str:
    """Undo common defanging (hxxp, [.], (dot), [@], backslash-dot) in an observable."""
    s = text.strip()
    if s[:1] in "hHmMfF" and (m := _DEFANG_SCHEME.match(s)) is not None:
        s = ("http" if m.group(1) else "ftp") + m.group(2).lower() + s[m.end() :]
    # Most values carry no brackets at all: skip the regexes on the hot path.
    if not _DEFANG_HINT.isdisjoint(s):
        s = _DEFANG_BRACKETS.sub(_bracket_repl, s).replace("\\.", ".")
    return s


# --------------------------------------------------------------------------------------------- IP addresses


def _v6_text(packed: bytes) -> str:
    """RFC 5952 text, always in hex (no dotted tail), so the key never depends on libc or Python version."""
    text = socket.inet_ntop(socket.AF_INET6, packed)
    if "." not in text:
        return text  # glibc already prints RFC 5952 text, except for the dotted IPv4 tails handled below
    groups = [f"{g:x}" for g in struct.unpack("!8H", packed)]
    best_at, best_len, run_at, run_len = -1, 1, -1, 0
    for i, group in enumerate(groups):
        if group == "0":
            run_at, run_len = (run_at, run_len + 1) if run_len else (i, 1)
            if run_len > best_len:
                best_at, best_len = run_at, run_len
        else:
            run_len = 0
    if best_at < 0:
        return ":".join(groups)
    head, tail = ":".join(groups[:best_at]), ":".join(groups[best_at + best_len :])
    return f"{head}::{tail}"


def _parse_ip(text: str) -> tuple[str, str, str] | None:
    """Return (canonical key, lo, hi) for an address or CIDR, or None."""
    addr, slash, plen_text = text.partition("/")
    try:
        if ":" in addr:
            if "%" in addr:  # zone ids never identify a host across machines
                return None
            packed = socket.inet_pton(socket.AF_INET6, addr)
            bits, tag = 128, "6:"
        else:
            packed = socket.inet_pton(socket.AF_INET, addr)
            bits, tag = 32, "4:"
    except (OSError, ValueError):
        return None
    if slash:
        if not plen_text.isdigit() or len(plen_text) > 3 or int(plen_text) > bits:
            return None
        plen = int(plen_text)
        if plen < bits:
            host_mask = (1 << (bits - plen)) - 1
            lo_n = int.from_bytes(packed, "big") & ~host_mask
            lo = lo_n.to_bytes(bits // 8, "big")
            hi = (lo_n | host_mask).to_bytes(bits // 8, "big")
            net = socket.inet_ntoa(lo) if bits == 32 else _v6_text(lo)
            return f"{net}/{plen}", tag + lo.hex(), tag + hi.hex()
    # glibc's inet_pton accepts only the canonical dotted quad, so the IPv4 input is already canonical.
    key = addr if bits == 32 else _v6_text(packed)
    bound = tag + packed.hex()
    return key, bound, bound


def ip_range_bounds(text: str) -> tuple[str, str] | None:
    """Encoded (lo, hi) bounds of an IPv4/IPv6 address or CIDR, or None when it is not one."""
    parsed = _parse_ip(text.strip())
    return None if parsed is None else (parsed[1], parsed[2])


def ip_row(text: str) -> IndexValue | None:
    parsed = _parse_ip(text)
    if parsed is None:
        return None
    key, lo, hi = parsed
    return _new(IndexValue, ("ip", key, key, lo, hi, True))


# --------------------------------------------------------------------------------------------- domains

_STRICT_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)
_BAD_DOMAIN_CHARS = frozenset(" \t\r\n/\\@?#")


def _idna(name: str) -> str | None:
    try:
        import idna

        return idna.encode(name, uts46=True).decode("ascii")
    except (ImportError, UnicodeError, ValueError):
        pass
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def normalize_domain(raw: str) -> str | None:
    """Lower-case, punycode (IDNA) and strip the trailing dot of a host name; None when it cannot be one."""
    name = raw.strip().lower().rstrip(".")
    if not name.isascii():
        name = _idna(name) or ""
    if not name or not _BAD_DOMAIN_CHARS.isdisjoint(name):
        return None
    return name


def domain_key(name: str) -> str:
    """Index key of a (normalised) domain: reversed labels plus a trailing dot."""
    return ".".join(name.split(".")[::-1]) + "."


def domain_key_range(name: str) -> tuple[str, str]:
    """Half-open key range [lo, hi) holding the domain itself and every subdomain of it."""
    key = domain_key(name)
    # "/" is the character right after "." so the range is exactly the keys starting with `key`.
    return key, key[:-1] + "/"


def domain_row(raw: str) -> IndexValue | None:
    name = normalize_domain(raw)
    return None if name is None else _new(IndexValue, ("domain", name, domain_key(name), None, None, True))


@lru_cache(maxsize=1)
def _tld_extractor() -> Any:
    import tldextract

    # Bundled snapshot only: no suffix-list URLs and no cache directory, so nothing is fetched or written.
    # Private suffixes (github.io, blogspot.com...) count as suffixes: no tenant is another's parent.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


_END, _EXCEPT = "", "!"  # trie markers: a rule ends here; an exception rule ends here


_TRIE_CACHE_FORMAT = b"suffix-trie 1"


@lru_cache(maxsize=1)
def _suffix_trie() -> dict[str, Any]:
    """The public suffix list of tldextract's bundled snapshot as a trie of labels, right to left, kept in
    var/cache: building it parses the snapshot (about 0.2 s), which every process that indexes a domain (each
    `accord import`, each worker) would otherwise pay."""
    from pathlib import Path

    from accord.core.cache import cache_path, load_or_build, package_files

    parts = [_TRIE_CACHE_FORMAT, Path(__file__).read_bytes()]
    path = cache_path("suffix-trie", *parts, *package_files("tldextract", ".tld_set_snapshot", "_version.py"))
    return load_or_build(path, _build_suffix_trie, orjson.dumps, _load_suffix_trie)


def _load_suffix_trie(data: bytes) -> dict[str, Any]:
    found = orjson.loads(data)
    if not isinstance(found, dict):
        raise TypeError("not a trie")
    return found


def _build_suffix_trie() -> dict[str, Any]:
    """The trie built from the snapshot. Unicode rules are also entered in their IDNA form: names here are
    always normalised to ASCII."""
    root: dict[str, Any] = {}
    for rule in _tld_extractor().tlds:
        exception = rule.startswith("!")
        labels = rule.lstrip("!").split(".")
        forms = [labels]
        if not rule.isascii():
            encoded = [label if label.isascii() else _idna(label) for label in labels]
            if all(encoded):
                forms.append([label for label in encoded if label])
        for form in forms:
            node = root
            for label in reversed(form):
                node = node.setdefault(label, {})
            node[_EXCEPT if exception else _END] = True
    return root


def public_suffix_size(labels: list[str]) -> int:
    """How many trailing labels of a normalised name are its public suffix (0: no known suffix).

    The publicsuffix.org rules as tldextract applies them (whose answers these must equal): the longest
    matching rule wins, "*" matches a label that no rule names, and an exception rule ("!www.ck") makes its
    parent the suffix.
    """
    node: dict[str, Any] | None = _suffix_trie()
    best = 0
    for depth, label in enumerate(reversed(labels), 1):
        if node is None:
            break
        exact = node.get(label)
        if exact is not None:  # a named label wins over "*" at the same level, as in tldextract
            if _EXCEPT in exact:
                return depth - 1
            if _END in exact:
                best = depth
            node = exact
        else:
            node = node.get("*")
            if node is not None and _END in node:
                best = depth
    return best


@lru_cache(maxsize=65536)
def registered_domain(name: str) -> str | None:
    """The registrable domain (public suffix + one label) of a name; None for unknown or bare suffixes."""
    norm = normalize_domain(name)
    if norm is None:
        return None
    labels = norm.split(".")
    size = public_suffix_size(labels)
    if size == 0 or size >= len(labels) or not labels[-size - 1]:
        return None
    return ".".join(labels[-size - 1 :])


def domain_parents(name: str) -> list[str]:
    """Parent domains of a name, nearest first, down to its registrable domain (never a public suffix)."""
    norm = normalize_domain(name)
    reg = registered_domain(norm) if norm else None
    if norm is None or reg is None or norm == reg:
        return []
    labels = norm.split(".")
    stop = len(labels) - reg.count(".")
    return [".".join(labels[i:]) for i in range(1, stop)]


# --------------------------------------------------------------------------------------------- URLs, e-mail

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}


# One match splits a URL; urlsplit plus its .hostname/.port properties cost ~5x more on the ingest path.
_URL = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://(?:([^/?#@]*)@)?(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]]*)(?::(\d*))?"
    r"([^?#]*)(?:\?([^#]*))?(?:#.*)?",
    re.DOTALL,
)


def _host_row(host: str) -> IndexValue | None:
    if host.startswith("["):
        return ip_row(host[1:-1]) if ":" in host else None
    if host[-1:].isdigit() and (row := ip_row(host)) is not None:
        return row
    return domain_row(host)


def url_rows(raw: str) -> list[IndexValue]:
    """A normalised URL row plus the row of its host (a domain or an address); [] when it is not a URL."""
    m = _URL.fullmatch(refang(raw))
    if m is None:
        return []
    scheme, userinfo, host, port, path, query = m.groups()
    host_row = _host_row(host) if host else None
    if host_row is None:
        return []
    scheme = scheme.lower()
    netloc = f"[{host_row.key}]" if host_row.kind == "ip" and ":" in host_row.key else host_row.value
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    if port and int(port) != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{int(port)}"
    url = f"{scheme}://{netloc}{path or ('/' if scheme in ('http', 'https') else '')}"
    if query:
        url = f"{url}?{query}"
    return [_new(IndexValue, ("url", url, url, None, None, True)), host_row]


def url_host(raw: str) -> tuple[str, str] | None:
    """(kind, value) of a URL's host, as url_rows(raw)[1] has them, without building either row; None when
    raw is not a URL. For warninglist look-ups of many URLs (bench_extract.py, dense text)."""
    m = _URL.fullmatch(refang(raw))
    host = m.group(3) if m is not None else None
    if not host:
        return None
    if host.startswith("[") or host[-1:].isdigit():  # perhaps an address
        row = _host_row(host)
        return None if row is None else (row.kind, row.value)
    name = normalize_domain(host)  # what _host_row's domain_row would take as the value
    return None if name is None else ("domain", name)


def email_row(raw: str) -> IndexValue | None:
    local, at, domain = refang(raw).rpartition("@")
    if not at or not local or " " in local:
        return None
    name = normalize_domain(domain)
    if name is None:
        return None
    value = f"{local.lower()}@{name}"
    return IndexValue("email", value, value)


# --------------------------------------------------------------------------------------------- other kinds

_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_SHA = re.compile(r"^sha-?(1|224|256|384|512)$")
_SHA3 = re.compile(r"^sha3-?(224|256|384|512)$")
_SSDEEP = re.compile(r"^\d+:[0-9A-Za-z/+]+:[0-9A-Za-z/+]+(?:,\"?.*\"?)?$")
_TLSH = re.compile(r"^(?:t1)?[0-9a-f]{70}$", re.IGNORECASE)


@lru_cache(maxsize=256)
def hash_kind(algorithm: str) -> str:
    """Index kind for a STIX hash algorithm name ('SHA-256', 'SHA256', 'MD5', 'SSDEEP'...)."""
    algo = algorithm.strip().strip("'\"").lower().replace("_", "-")
    if m := _SHA.match(algo):
        return f"hash:sha{m.group(1)}"
    if m := _SHA3.match(algo):
        return f"hash:sha3-{m.group(1)}"
    return f"hash:{algo}"


def hash_row(kind: str, raw: str) -> IndexValue | None:
    value = raw.strip().lower()
    return IndexValue(kind, value, value) if value else None


_HIVES = {
    "hklm": "hkey_local_machine",
    "hkcu": "hkey_current_user",
    "hkcr": "hkey_classes_root",
    "hku": "hkey_users",
    "hkcc": "hkey_current_config",
    "hkpd": "hkey_performance_data",
}
_KERNEL_HIVES = {"registry\\machine": "hkey_local_machine", "registry\\user": "hkey_users"}
_BACKSLASHES = re.compile(r"\\{2,}")


def registry_row(raw: str) -> IndexValue | None:
    key = _BACKSLASHES.sub("\\\\", raw.strip().lower()).strip("\\")
    if not key:
        return None
    for prefix, hive in _KERNEL_HIVES.items():
        if key == prefix or key.startswith(prefix + "\\"):
            key = hive + key[len(prefix) :]
            break
    else:
        head, sep, rest = key.partition("\\")
        if head in _HIVES:
            key = _HIVES[head] + sep + rest
    return IndexValue("registry-key", key, key)


_ASN = re.compile(r"^(?:as)?\s*(\d{1,10})$", re.IGNORECASE)
_CVE = re.compile(r"^cve-\d{4}-\d{4,}$", re.IGNORECASE)
_BITCOIN = re.compile(r"^(?:bc1[ac-hj-np-z02-9]{11,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})$")


def asn_row(raw: str) -> IndexValue | None:
    m = _ASN.match(raw.strip())
    if m is None or int(m.group(1)) >= 2**32:
        return None
    key = f"AS{int(m.group(1))}"
    return IndexValue("asn", key, key)


def cve_row(raw: str) -> IndexValue | None:
    value = raw.strip().upper()
    return IndexValue("cve", value, value) if _CVE.match(value) else None


def serial_row(raw: str) -> IndexValue | None:
    value = raw.strip().lower().replace(":", "").replace(" ", "").replace("-", "")
    value = value.removeprefix("0x")
    # Serials are integers: leading zero bytes are formatting, not identity.
    value = value.lstrip("0") or "0"
    return IndexValue("x509-serial", value, value) if _HEX.match(value) else None


def exact_row(kind: str, raw: str) -> IndexValue | None:
    value = raw.strip()
    return IndexValue(kind, value, value) if value else None


def file_name_row(raw: str) -> IndexValue | None:
    value = raw.strip()
    # File systems that matter here (Windows) compare names case-insensitively; show the name as given.
    return IndexValue("file-name", value, value.lower()) if value else None


def one_or_none(row: IndexValue | None) -> list[IndexValue]:
    return [] if row is None else [row]


_KIND_BUILDERS: dict[str, Callable[[str], list[IndexValue]]] = {
    "ip": lambda s: one_or_none(ip_row(refang(s))),
    "domain": lambda s: one_or_none(domain_row(refang(s))),
    "url": url_rows,
    "email": lambda s: one_or_none(email_row(s)),
    "file-name": lambda s: one_or_none(file_name_row(s)),
    "mutex": lambda s: one_or_none(exact_row("mutex", s)),
    "user-agent": lambda s: one_or_none(exact_row("user-agent", s)),
    "bitcoin": lambda s: one_or_none(exact_row("bitcoin", s)),
    "registry-key": lambda s: one_or_none(registry_row(s)),
    "asn": lambda s: one_or_none(asn_row(s)),
    "x509-serial": lambda s: one_or_none(serial_row(s)),
    "cve": lambda s: one_or_none(cve_row(s)),
}


def rows_for_kind(kind: str, raw: str) -> list[IndexValue]:
    """Rows for a raw value of a known kind (no detection, light checks); [] when it does not normalise."""
    builder = _KIND_BUILDERS.get(kind)
    if builder is not None:
        return builder(raw)
    if kind.startswith("hash:"):
        return one_or_none(hash_row(kind, raw))
    return []


# --------------------------------------------------------------------------------------------- user input


def _detect(s: str) -> list[IndexValue]:
    low = s.lower()
    if _CVE.match(s):
        return one_or_none(cve_row(s))
    if low.startswith("as") and (row := asn_row(s)) is not None:
        return [row]
    if len(low) in _HASH_LENGTHS and _HEX.match(low):
        return [IndexValue(f"hash:{_HASH_LENGTHS[len(low)]}", low, low)]
    if _SSDEEP.match(s):
        return [IndexValue("hash:ssdeep", low, low)]
    if _TLSH.match(s):
        return [IndexValue("hash:tlsh", low, low)]
    # Addresses start with a digit (IPv4) or hold a colon (IPv6): other values skip the parser's exception.
    if (s[:1].isdigit() or ":" in s) and (row := ip_row(s)) is not None:
        return [row]
    if "://" in s:
        return url_rows(s)
    if "@" in s:
        return one_or_none(email_row(s))
    if _BITCOIN.match(s):
        return [IndexValue("bitcoin", s, s)]
    name = normalize_domain(s) if "/" not in s else None
    if name is not None and _STRICT_DOMAIN.match(name):
        return [IndexValue("domain", name, domain_key(name))]
    head = s.partition("/")[0]
    if "/" in s and (ip_row(head) is not None or _STRICT_DOMAIN.match(normalize_domain(head) or "")):
        return url_rows("http://" + s)
    return []


def normalize(kind_hint: str | None, raw: str) -> list[IndexValue]:
    """Rows for raw or defanged user input, detecting the kind when `kind_hint` is None; [] if unknown."""
    s = raw.strip()
    if not s:
        return []
    if kind_hint is None:
        # Registry keys are full of backslashes that defanging would read as escapes: test them first.
        if s.lower().startswith(("hk", "\\registry\\")) and "\\" in s:
            return one_or_none(registry_row(s))
        return _detect(refang(s))
    if kind_hint == "hash":
        low = s.lower()
        algo = _HASH_LENGTHS.get(len(low))
        return [IndexValue(f"hash:{algo}", low, low)] if algo and _HEX.match(low) else []
    if kind_hint == "url" and "://" not in s:
        s = "http://" + s
    return rows_for_kind(kind_hint, s)
