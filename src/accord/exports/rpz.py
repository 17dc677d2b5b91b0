"""A DNS Response Policy Zone (RFC draft-vixie-dnsop-dns-rpz) of the active indicator domains and subdomains.

Each domain answers NXDOMAIN (`CNAME .`) for itself and every name under it (`*.domain`). The SOA serial is
the node clock in seconds: it increases whenever what the node stores changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

ZONE_TTL = 300
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\Z")
MAX_NAME = 200  # leaves room for the zone's own name and the "*." under the 255 octets of a DNS name


def serial(marker_us: int) -> int:
    """The SOA serial for a node clock value (seconds, within 32 bits)."""
    return (marker_us // 1_000_000) % (1 << 32)


def zone(batches: Iterable[list[str]], marker_us: int) -> Iterator[bytes]:
    """The zone file: SOA, NS and two records per domain of the batches (accord.exports.active.values)."""
    yield (
        f"$TTL {ZONE_TTL}\n"
        f"@ IN SOA localhost. hostmaster.localhost. {serial(marker_us)} 3600 600 86400 {ZONE_TTL}\n"
        "@ IN NS localhost.\n"
    ).encode()
    seen: set[int] = set()
    for batch in batches:
        lines = []
        for value in batch:
            name = value.lower().rstrip(".")
            h = hash(name)
            if h in seen or len(name) > MAX_NAME or not _NAME.match(name):
                continue
            seen.add(h)
            lines.append(f"{name} CNAME .\n*.{name} CNAME .\n")
        if lines:
            yield "".join(lines).encode()
