"""Candidate scanners: each one jumps between rare anchor characters so prose costs almost nothing.

Python's regex engine only scans quickly for a literal first character; a pattern that may start at any word
(``[\\w-]+\\.``) runs at about 10 MB/s. So every scanner here searches for an anchor (``.``, ``@``, ``://``, ``:``,
``HK``, ``T``, ``AS``, ``cve``, ``bc1``) or for runs in a byte mask made with ``bytes.translate``, then grows the
token around the anchor with anchored matches. Only real candidates reach Python code.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from accord.extract.bitcoin import is_base58check_address, is_bech32_address
from accord.extract.patterns import (
    classify_dotted,
    classify_ipv6,
    normalise_registry,
    trim_url,
    url_parts,
)

Key = tuple[str, str]  # (type, value)
Flags = tuple[str, ...]
# (start, end, key, flags), offsets in the refanged text. Start first: a list of them sorts into text order
# without a key function, and the key is one tuple that deduplication and counting hash as it is, often the
# very object a per-value cache returned (bench_extract.py, dense text).
Raw = tuple[int, int, Key, Flags]

_LOCAL_BEFORE = re.compile(r"[\w.+-]{1,64}")
_HEX_COLON_BEFORE = re.compile(r"[0-9A-Fa-f:]{1,39}")
# Reversed scheme names, and the boundary before the scheme (not after a word character or . @ $ % -).
_SCHEME_BEFORE = re.compile(r"(?:s?ptth|s?ptf|ptfs)(?![\w.@$%-])", re.IGNORECASE)

# A dotted token is [\w-]{1,63}(?:\.[\w-]{1,63})+ with an optional /bits, at a boundary (not after a word
# character or one of . @ $ % -). Found from its first dot, a literal the regex engine searches at memchr speed
# (see the module docstring), and its first label matched on the reversed text with the boundary as a look-ahead.
_DOTTED_RIGHT = re.compile(r"\.[\w-]{1,63}(?:\.[\w-]{1,63})*(?:/\d{1,2}(?!\d|\.\d))?")
_LABEL_BEFORE = re.compile(r"[\w-]{1,63}(?![\w.@$%-])")
_URL_REST = re.compile(r"://[^\s<>\"'`{}|\\^,]+")  # a comma ends a URL: CSV exports and prose lists
_DOMAIN_AFTER_AT = re.compile(r"@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)")
# A dotted quad right after one of these words is a version, an OID or a section number, not an address
# ("version 2.4.1.3", "build 6.1.7601.2", "OID 2.5.4.3", "see section 4.2.1.3", "§ 4.2.1.3").
_NUMBERING_WORDS = (
    "versions?|ver|v|builds?|releases?|rev|revisions?|firmware|kernels?|updates?|patch(?:es)?"
    "|oid|sections?|sec|clauses?|chapters?|paragraphs?|para|appendix"
)


def _reversed_words(alternatives: str) -> str:
    """The alternatives of _NUMBERING_WORDS spelled backwards ("patch(?:es)?" -> "(?:se)?hctap")."""
    out = []
    for word in alternatives.split("|"):
        if word.endswith("(?:es)?"):
            out.append("(?:se)?" + word[: -len("(?:es)?")][::-1])
        elif word.endswith("s?"):
            out.append("s?" + word[:-2][::-1])
        else:
            out.append(word[::-1])
    return "|".join(out)


# Written as one anchored match on the reversed text at the quad's start (a version word, then an optional "." or
# ":", up to three spaces and a "(" before the quad, the word not inside a longer word): a search of the
# characters before each quad would try every start position, and dense appendices hold thousands of addresses.
_NUMBERING_WORD_BEFORE = re.compile(
    rf"\(?\s{{0,3}}(?:[.:]?(?:{_reversed_words(_NUMBERING_WORDS)})(?![\w-])|§)",
    re.IGNORECASE,
)
_COLON_ANCHOR = re.compile(r":[0-9A-Fa-f:]")
_IPV6 = re.compile(
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?:/\d{1,3})?(?![\w:]|\.\d)"
)
_REG = re.compile(
    r"HK(?:EY_[A-Z_]{4,22}|LM|CU|CR|U|CC):?(?:\\(?:[^\\\s\"'<>|,;]+"
    r"(?: [A-Z0-9({][^\\\s\"'<>|,;]*)*(?=\\)|[^\\\s\"'<>|,;]+))+"
)
_TECHNIQUE = re.compile(r"T\d{4}(?:\.\d{3})?(?!\w|\.\d)")
_ASN = re.compile(r"AS(?:N ?| )?(\d{1,10})(?!\w)")
_CVE = re.compile(rb"cve[-? ](\d{4})[-?](\d{4,7})(?!\d)")  # on lower-cased ASCII bytes; '?' stands for a Unicode dash
_BECH32 = re.compile(rb"bc1[02-9ac-hj-np-z]{11,71}(?![a-z0-9])")
_BASE58 = re.compile(r"[13][1-9A-HJ-NP-Za-km-z]{25,34}(?!\w)")

_HEX_MASK = bytes.maketrans(b"0123456789abcdefABCDEF", b"x" * 22)
_HEX_MASK = bytes(b if b == ord("x") else 32 for b in bytes(range(256)).translate(_HEX_MASK))
_B58_CHARS = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Base58 addresses start with 1 or 3: in this mask '1' marks those digits, 'b' other base58 characters, so a
# candidate is a '1' starting a long [1b] run, found by a literal-prefix regex. The look-behind comes after the
# literal, which keeps the fast prefix search, and turns away a '1' inside a run (hex hashes are such runs)
# before the run is matched and backtracked (bench_extract.py, dense text). A substring search for a run of
# 26 base58 characters is slower: in prose nearly every character is one.
_B58_MASK = bytes(ord("1") if i in b"13" else ord("b") if i in _B58_CHARS else 32 for i in range(256))
_B58_CANDIDATE = re.compile(rb"1(?<![1b]1)[1b]{25,34}(?![1b])")
_HEX_RUN = b"x" * 32
_HASH_KINDS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}


class Consumed:
    """Spans already claimed by URLs, e-mail addresses and registry keys, which later scanners skip."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in sorted(spans):
            if self._ends and start < self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def spans(self) -> tuple[list[int], list[int]]:
        """The claimed spans' starts and ends, in order and disjoint."""
        return self._starts, self._ends

    def end_of(self, pos: int) -> int:
        """End of the claimed span containing pos, or -1."""
        if not self._starts:
            return -1
        i = bisect_right(self._starts, pos) - 1
        return self._ends[i] if i >= 0 and pos < self._ends[i] else -1


NOTHING_CONSUMED = Consumed([])


def _boundary_before(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_.@$%-")


# Per-value work is cached in plain dicts: a cached function's call costs more than the dict lookup, and dense
# appendices hold tens of thousands of candidates (bench_extract.py, dense text). Each cache is emptied when full.
_CACHE_MAX = 65536
UrlFinding = tuple[int, Key | None, int, int, Key, Flags]
_URL_CACHE: dict[str, UrlFinding | tuple[()]] = {}


def _url_finding(candidate: str) -> UrlFinding | tuple[()]:
    """For the text from a scheme to the first character a URL cannot hold: (the URL's length once trimmed,
    its key, its host's start and end in it, the host's key and flags); the URL's key None when it has no
    valid host; () when trimming leaves no "://"."""
    url = trim_url(candidate)
    if "://" not in url:
        return ()
    parts = url_parts(url)
    if parts is None:
        return len(url), None, 0, 0, ("", ""), ()
    normalised, host_start, host_end, kind, value, flags = parts
    return len(url), ("url", normalised), host_start, host_end, (kind, value), flags


_PLAIN, _FILE, _IPV4 = 0, 1, 2
DottedFinding = tuple[Key, Flags, int]
_DOTTED_CACHE: dict[str, DottedFinding | tuple[()]] = {}


def _dotted_finding(token: str) -> DottedFinding | tuple[()]:
    """classify_dotted's answer as a finding's key and flags, and whether it is a file name or an IPv4 address
    (the checks that depend on the text around the token); () for no finding."""
    got = classify_dotted(token)
    if got is None:
        return ()
    kind = got[0]
    return (kind, got[1]), got[2], _FILE if kind == "file-name" else _IPV4 if kind == "ipv4-addr" else _PLAIN


def urls(text: str, rev: str, lowered: bytes) -> list[Raw]:
    """URLs with a known scheme, trailing punctuation trimmed, and their host."""
    n = len(text)
    scheme_before = _SCHEME_BEFORE.match
    rest_at = _URL_REST.match
    find = lowered.find
    cache = _URL_CACHE
    cache_get = cache.get
    found: list[Raw] = []
    add = found.append
    pos = find(b"://")
    while pos >= 0:
        nxt = pos + 3
        scheme = scheme_before(rev, n - pos)
        rest = rest_at(text, pos) if scheme else None
        if scheme and rest:
            start = n - scheme.end()
            candidate = text[start : rest.end()]
            got = cache_get(candidate)
            if got is None:
                got = cache[candidate] = _url_finding(candidate)
                if len(cache) > _CACHE_MAX:
                    cache.clear()
            if got:
                length, key, host_start, host_end, host, flags = got
                if key is not None:
                    add((start, start + length, key, ()))
                    add((start + host_start, start + host_end, host, flags))
                nxt = start + length
        pos = find(b"://", nxt)
    return found


def emails(text: str, rev: str) -> list[Raw]:
    """E-mail addresses whose domain has a public suffix."""
    n = len(text)
    cache = _DOTTED_CACHE
    found: list[Raw] = []
    pos = text.find("@")
    while pos >= 0:
        local = _LOCAL_BEFORE.match(rev, n - pos)
        domain = _DOMAIN_AFTER_AT.match(text, pos)
        if local and domain:
            start = pos - (local.end() - local.start())
            while start < pos and text[start] in ".+-":
                start += 1
            local_part = text[start:pos]
            name = domain.group(1)
            got = cache.get(name)
            if got is None:
                got = cache[name] = _dotted_finding(name)
                if len(cache) > _CACHE_MAX:
                    cache.clear()
            if local_part and ".." not in local_part and got and got[0][0] == "domain-name":
                found.append((start, domain.end(), ("email-addr", f"{local_part}@{got[0][1]}".lower()), ()))
        pos = text.find("@", pos + 1)
    return found


def dotted(text: str, rev: str, consumed: Consumed = NOTHING_CONSUMED) -> list[Raw]:
    """IPv4 addresses and CIDRs, domains and file names: tokens with an inner dot."""
    n = len(text)
    label_before = _LABEL_BEFORE.match
    numbering_before = _NUMBERING_WORD_BEFORE.match
    cache = _DOTTED_CACHE
    cache_get = cache.get
    found: list[Raw] = []
    add = found.append
    # The matches only move forward, so the claimed spans are walked with an index rather than bisected.
    starts, ends = consumed.spans()
    j, claims = 0, len(starts)
    # Each match runs from a token's first dot to its end. Dots later in a token have a dot before their label,
    # so the single pass over tokens misses no start that the boundary test would take.
    for m in _DOTTED_RIGHT.finditer(text):
        dot = m.start()
        while j < claims and ends[j] <= dot:
            j += 1
        if j < claims and starts[j] <= dot:
            continue
        left = label_before(rev, n - dot)
        if left is None:
            continue
        start = n - left.end()
        end = m.end()
        token = text[start:end]
        got = cache_get(token)
        if got is None:
            got = cache[token] = _dotted_finding(token)
            if len(cache) > _CACHE_MAX:
                cache.clear()
        if not got:
            continue
        key, flags, kind = got
        # After a path separator only a file name counts ("evil.com/gate.php" -> gate.php).
        if kind != _FILE and start and text[start - 1] in "/\\":
            continue
        if kind == _IPV4 and numbering_before(rev, n - start):
            continue
        add((start, end, key, flags))
    return found


def ipv6(text: str, rev: str, consumed: Consumed = NOTHING_CONSUMED) -> list[Raw]:
    """IPv6 addresses and CIDRs."""
    n = len(text)
    found: list[Raw] = []
    m = _COLON_ANCHOR.search(text)
    while m is not None:
        colon = m.start()
        claimed = consumed.end_of(colon)
        if claimed >= 0:
            m = _COLON_ANCHOR.search(text, claimed)
            continue
        left = _HEX_COLON_BEFORE.match(rev, n - colon)
        start = colon - (left.end() - left.start()) if left else colon
        nxt = colon + 1
        if start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_:.-"):
            tok = _IPV6.match(text, start)
            if tok is not None:
                nxt = tok.end()
                got = classify_ipv6(tok.group())
                if got is not None:
                    found.append((start, tok.end(), (got[0], got[1]), got[2]))
        m = _COLON_ANCHOR.search(text, nxt)
    return found


def hashes(text: str, ascii_text: bytes, consumed: Consumed = NOTHING_CONSUMED) -> list[Raw]:
    """MD5/SHA-1/SHA-256/SHA-512: whole hex runs of exactly a hash's length that mix digits and letters."""
    mask = ascii_text.translate(_HEX_MASK)
    find = mask.find
    n = len(mask)
    kinds = _HASH_KINDS
    starts, ends = consumed.spans()  # walked forward, as the runs are found in order
    j, claims = 0, len(starts)
    found: list[Raw] = []
    add = found.append
    pos = find(_HEX_RUN)
    while pos >= 0:
        end = find(b" ", pos + 32)
        end = n if end < 0 else end
        kind = kinds.get(end - pos)
        if kind is not None:
            while j < claims and ends[j] <= pos:
                j += 1
            if (
                not (j < claims and starts[j] <= pos)
                and (pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in "_-"))
                and (end == n or not (text[end].isalnum() or text[end] in "_-"))
            ):
                token = text[pos:end]
                if not (token.isdigit() or token.isalpha()):
                    add((pos, end, (kind, token.lower()), ()))
        pos = find(_HEX_RUN, end)
    return found


def bitcoin(text: str, ascii_text: bytes, lowered: bytes, consumed: Consumed = NOTHING_CONSUMED) -> list[Raw]:
    """Bitcoin addresses whose base58check or bech32 checksum is valid."""
    found: list[Raw] = []
    mask = ascii_text.translate(_B58_MASK)
    for c in _B58_CANDIDATE.finditer(mask):
        pos = c.start()
        if consumed.end_of(pos) >= 0:
            continue
        m = _BASE58.match(text, pos)
        if m and _boundary_before(text, pos) and is_base58check_address(m.group()):
            found.append((pos, m.end(), ("bitcoin-address", m.group()), ()))
    for b in _BECH32.finditer(lowered):
        start, end = b.span()
        token = text[start:end]
        if _boundary_before(text, start) and consumed.end_of(start) < 0 and is_bech32_address(token):
            found.append((start, end, ("bitcoin-address", token.lower()), ()))
    return found


def registry_keys(text: str) -> list[Raw]:
    """Windows registry keys under a known hive, hive names spelled out."""
    found: list[Raw] = []
    for m in _REG.finditer(text):
        key = normalise_registry(m.group())
        if key is not None and _boundary_before(text, m.start()):
            end = m.start() + len(m.group().rstrip(".,;:)'\""))
            found.append((m.start(), end, ("windows-registry-key", key), ()))
    return found


def small_patterns(text: str, lowered: bytes, consumed: Consumed = NOTHING_CONSUMED) -> list[Raw]:
    """CVE ids, ATT&CK technique ids and AS numbers."""
    found: list[Raw] = []
    add = found.append
    starts, ends = consumed.spans()
    claims = len(starts)
    j = 0
    for c in _CVE.finditer(lowered):
        pos = c.start()
        while j < claims and ends[j] <= pos:
            j += 1
        if not (j < claims and starts[j] <= pos) and (
            pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in "_.@$%-")
        ):
            # The digits are where the bytes had them ('?' for a Unicode dash is no digit).
            add((pos, c.end(), ("cve", f"CVE-{text[pos + 4 : pos + 8]}-{text[pos + 9 : c.end()]}"), ()))
    j = 0
    for m in _TECHNIQUE.finditer(text):
        pos = m.start()
        while j < claims and ends[j] <= pos:
            j += 1
        if not (j < claims and starts[j] <= pos) and (
            pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] in "_.@$%-")
        ):
            add((pos, m.end(), ("attack-technique", m.group()), ()))
    for m in _ASN.finditer(text):
        number = int(m.group(1))
        if 0 < number < 2**32 and _boundary_before(text, m.start()) and consumed.end_of(m.start()) < 0:
            add((m.start(), m.end(), ("asn", f"AS{number}"), ()))
    return found
