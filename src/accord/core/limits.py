"""Size limits on bodies read from the network: refuse as soon as a body is known to be too large."""

from __future__ import annotations

import re
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


# JSON nesting (docs/limits.md): the one depth limit of every JSON body outside TAXII envelopes, as deep as a STIX
# object may nest (accord.stix.validate), which no request body of the REST API comes near.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = bytes.maketrans(b"{}", b"[]")  # one kind: mismatched brackets are the parser's to refuse
_NOT_BRACKET = bytes(c for c in range(256) if c not in b"[]{}")


def json_too_deep(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects deeper than max_depth, found without parsing it.

    Strings are cut out and only brackets kept; then each pass removes every innermost pair (one left-to-right
    `bytes.replace`, which does not rescan what it produced, so exactly one level a pass): a pair still removed on
    pass max_depth + 1 encloses max_depth others, and a run of opening brackets proves the depth at once. At
    worst (16 MiB of chains exactly max_depth deep) about 3 s of CPU; a body of 16 MiB nested without end takes
    milliseconds. Text that is not JSON may answer either way; the parser refuses it.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(_BRACKETS, _NOT_BRACKET)
    for done in range(max_depth + 1):
        if b"[" * (max_depth + 1 - done) in brackets:  # that many opened in a row: nested that deep
            return True
        shorter = brackets.replace(b"[]", b"")  # the deepest point is always such a pair: depth - 1
        if len(shorter) == len(brackets):
            return False
        brackets = shorter
    return True
