"""Size limits on bodies read from the network: refuse as soon as a body is known to be too large."""

from __future__ import annotations

from collections.abc import Iterable


def declared_too_large(declared: str | None, max_bytes: int) -> bool:
    """Whether a Content-Length value already says the body exceeds max_bytes (a malformed one says nothing)."""
    return declared is not None and declared.strip().isdigit() and int(declared) > max_bytes


def join_capped(chunks: Iterable[bytes], max_bytes: int, too_large: Exception) -> bytes:
    """The chunks joined; raises too_large as soon as they pass max_bytes, without holding more than that."""
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        out.append(chunk)
    return b"".join(out)
