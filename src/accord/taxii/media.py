"""TAXII 2.1 media types: Accept negotiation and Content-Type checks (pure; no web framework)."""

from __future__ import annotations

import re

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
TAXII_VERSION = "2.1"

_PARAM_RE = re.compile(r"""\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*""")


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """Split `type/subtype; a=b` into the lower-cased type and its (lower-cased key) parameters."""
    main, *params = value.split(";")
    out: dict[str, str] = {}
    for param in params:
        m = _PARAM_RE.fullmatch(param)
        if m is None:
            continue
        out[m[1].lower()] = m[2].strip('"')
    return main.strip().lower(), out


def _produces(media: str, params: dict[str, str]) -> bool:
    """Whether we can answer in this media range (we produce only TAXII 2.1 JSON)."""
    if media in ("*/*", "application/*"):
        return True
    if media != "application/taxii+json":
        return False
    version = params.get("version")
    return version is None or version == TAXII_VERSION


def acceptable(accept: str | None) -> bool:
    """Whether an Accept header admits TAXII 2.1 JSON (absent or empty admits everything)."""
    if accept is None or not accept.strip():
        return True
    for item in accept.split(","):
        if not item.strip():
            continue
        media, params = parse_media_type(item)
        quality = params.pop("q", "1")
        try:
            q = float(quality)
        except ValueError:
            q = 1.0
        if q > 0 and _produces(media, params):
            return True
    return False


def is_taxii_content_type(content_type: str | None) -> bool:
    """Whether a request body is declared as TAXII 2.1 JSON (spacing and case of parameters tolerated)."""
    if not content_type:
        return False
    media, params = parse_media_type(content_type)
    if media != "application/taxii+json":
        return False
    version = params.get("version")
    return version is None or version == TAXII_VERSION
