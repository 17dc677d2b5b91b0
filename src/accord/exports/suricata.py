"""Suricata rules for the active indicator values: IPs, domains (DNS and TLS SNI), URLs and file hashes.

A rule's `sid` derives from its indicator's id and value, so each indicator keeps its sid across exports; `rev`
derives from the indicator's `modified` (seconds since 2020), so a new version of an indicator bumps it. Two
rules of one export whose derived sids meet take the next free sid, in export order. File hashes go in
Suricata's hash lists: one `filemd5`/`filesha1`/`filesha256` rule per list, whose file is the blocklist export
of that kind (`accord export --format blocklist --type md5`).
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Iterable, Iterator

from accord.correlate.indicator_values import NAME_CHARS
from accord.exports.scored import Indicator

SID_BASE = 1_000_000_000
SID_SPAN = 1_000_000_000
HASH_LISTS = {"md5": "filemd5", "sha1": "filesha1", "sha256": "filesha256"}
_FIXED_SIDS = {"md5": SID_BASE - 3, "sha1": SID_BASE - 2, "sha256": SID_BASE - 1}
_PLAIN = re.compile(r"[\x21\x23-\x2b\x2d-\x39\x3c-\x5b\x5d-\x7b\x7d\x7e]")  # printable, not " ; \ | , : space
_UNPLAIN = re.compile(r"[^\x21\x23-\x2b\x2d-\x39\x3c-\x5b\x5d-\x7b\x7d\x7e]")
_UNSAFE_MSG = re.compile(r'[";\\|\x00-\x1f\x7f-\uffff]')


def content(text: str) -> str:
    """A Suricata content string: everything but plain printable characters written as |hex|."""
    if _UNPLAIN.search(text) is None:  # most values (domains, paths) hold nothing to escape
        return text
    out = []
    for ch in text.encode():
        c = chr(ch)
        out.append(c if ch < 0x80 and _PLAIN.fullmatch(c) else f"|{ch:02X}|")
    return "".join(out).replace("||", " ")


def _msg(text: str) -> str:
    # Label separators escaped as " ." (what suricata-check's S406 asks): a message never holds a live name.
    return _UNSAFE_MSG.sub("_", text).replace(".", " .")[:250]


def derived_sid(indicator_id: str, kind: str, value: str) -> int:
    """The sid a rule of this indicator and value gets (stable across exports)."""
    digest = hashlib.blake2b(f"{indicator_id}\x00{kind}\x00{value}".encode(), digest_size=8).digest()
    return SID_BASE + int.from_bytes(digest, "big") % SID_SPAN


def _bodies(kind: str, value: str) -> list[str]:
    if kind in ("ip", "cidr"):
        # Brackets make an IPv6 address (and any address or CIDR) one Suricata address group.
        return [f"alert ip $HOME_NET any -> [{value}] any (", f"alert ip [{value}] any -> $HOME_NET any ("]
    if kind == "domain":
        dotted = content("." + value)
        return [
            f'alert dns $HOME_NET any -> any any (dns.query; dotprefix; content:"{dotted}"; nocase; endswith; ',
            f'alert tls $HOME_NET any -> any any (tls.sni; dotprefix; content:"{dotted}"; nocase; endswith; ',
        ]
    if kind == "url":
        rest = value.partition("://")[2]
        host, slash, path = rest.partition("/")
        host = host.rpartition("@")[2]
        host = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
        uri = slash + path
        if not host or not uri:
            return []
        return [
            f'alert http $HOME_NET any -> any any (http.host; content:"{content(host)}"; nocase; '
            f'bsize:{len(host.encode())}; http.uri; content:"{content(uri)}"; startswith; '
        ]
    return []


class SidSet:
    """The sids an export has used: an open-addressing table of 4-byte offsets from SID_BASE (0 = empty).

    A Python set of a million rules' sids holds ~70 bytes per sid; this holds 8 to 16 (bench_exports).
    """

    def __init__(self) -> None:
        self._slots = array("I", bytes(4 * 1024))
        self._count = 0

    def add(self, sid: int) -> bool:
        """Add a sid; False when it was there already."""
        key = sid - SID_BASE + 1  # 1 .. SID_SPAN, never 0
        slots = self._slots
        mask = len(slots) - 1
        i = (key * 0x9E3779B1) & mask
        while True:
            found = slots[i]
            if found == key:
                return False
            if found == 0:
                break
            i = (i + 1) & mask
        slots[i] = key
        self._count += 1
        if self._count * 2 > len(slots):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("I", bytes(8 * len(old)))
        self._count = 0
        for key in old:
            if key:
                self.add(key + SID_BASE - 1)


def rules(pages: Iterable[list[Indicator]]) -> Iterator[bytes]:
    """Rules for the active, unlisted indicator values of the pages."""
    used = SidSet()
    hashes: set[str] = set()
    yield b"# Accord indicators as Suricata rules (sids stable per indicator; rev = version)\n"
    for page in pages:
        lines = []
        for item in page:
            rev, name = item.rev, item.name[:NAME_CHARS]
            for v in item.values:
                if not v.active or v.listed:
                    continue
                if v.kind in HASH_LISTS:
                    hashes.add(v.kind)
                    continue
                for n, body in enumerate(_bodies(v.kind, v.value)):
                    sid = derived_sid(item.id, f"{v.kind}/{n}", v.value)
                    while not used.add(sid):
                        sid = SID_BASE + (sid - SID_BASE + 1) % SID_SPAN
                    msg = _msg(f"ACCORD INDICATOR {v.kind} {v.value} ({name})")
                    lines.append(
                        f'{body}msg:"{msg}"; metadata:accord_id {item.id}; '
                        f"classtype:trojan-activity; sid:{sid}; rev:{rev};)"
                    )
        if lines:
            yield ("\n".join(lines) + "\n").encode()
    for kind in sorted(hashes):
        yield (
            f'alert http any any -> any any (msg:"ACCORD INDICATOR file {kind} on the Accord list"; '
            f"{HASH_LISTS[kind]}:accord-{kind}.txt; classtype:trojan-activity; sid:{_FIXED_SIDS[kind]}; rev:1;)\n"
        ).encode()
