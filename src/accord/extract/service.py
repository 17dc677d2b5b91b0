"""Extraction as users run it: a document (bytes or URL) in, findings and a STIX bundle out.

Shared by `accord extract` and `POST /api/v1/extract`, so both read documents, apply limits, consult the
warninglists and describe findings the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from accord.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from accord.core.perf import gc_paused
from accord.core.settings import get_settings
from accord.extract.documents import text_from_bytes
from accord.extract.engine import Finding, extract

DEFAULT_TITLE = "Extracted report"
_HASHES = ("md5", "sha1", "sha256", "sha512")
_INDEX_KIND = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "ipv4-cidr": "ip",
    "ipv6-cidr": "ip",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
    **{h: f"hash:{h}" for h in _HASHES},
}
_INDEX_KINDS = tuple(dict.fromkeys(_INDEX_KIND.values()))
_WARNINGLIST = "warninglist:"
_ALIAS = "alias:"
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")


@dataclass(frozen=True)
class Extraction:
    """What one document yielded; its STIX bundle is built when first read (the CLI's table and JSON never do)."""

    title: str
    findings: list[Finding]
    _make_bundle: Callable[[], dict[str, Any]] = field(repr=False, compare=False)

    @functools.cached_property
    def bundle(self) -> dict[str, Any]:
        """The findings as a STIX 2.1 bundle with a report named after the document."""
        with gc_paused():  # STIX objects are acyclic: collector passes over them are pure cost
            return self._make_bundle()


def _with_warninglists(findings: list[Finding]) -> list[Finding]:
    """findings, those on the node's active warninglists with a "warninglist:<name>" flag for each list, as the
    engine's warninglist argument adds them; looked up all at once (bench_extract.py, dense text)."""
    from accord.correlate.warninglists import active_matcher  # not correlate.matching: that loads the database layer

    # The values grouped by index kind in one pass over the findings, with their finding numbers beside them.
    values: dict[str, list[str]] = {kind: [] for kind in _INDEX_KINDS}
    numbers: dict[str, list[int]] = {kind: [] for kind in _INDEX_KINDS}
    index_kind = _INDEX_KIND.get
    for number, finding in enumerate(findings):
        kind = index_kind(finding[0])
        if kind is not None:
            values[kind].append(finding[1])
            numbers[kind].append(number)
    flagged = list(findings)
    with gc_paused():  # the tables loaded and the values' hits are acyclic: collector passes are pure cost
        found = active_matcher().hits_by_kind({kind: listed for kind, listed in values.items() if listed})
    for kind, hits in found.items():
        at = numbers[kind]
        for i, names in hits.items():
            finding = findings[at[i]]
            flagged[at[i]] = finding._replace(flags=finding.flags + tuple(f"{_WARNINGLIST}{name}" for name in names))
    return flagged


def fetch_document(url: str, *, allow_private: bool) -> tuple[bytes, str | None]:
    """(body, content type) of a report URL within the node's size and time limits; BadRequest on failure."""
    from accord.remote.http import RemoteError, ResponseTooLarge, fetch  # httpx: only when a URL is given

    settings = get_settings()
    try:
        got = fetch(
            url,
            max_bytes=settings.extract_max_bytes,
            timeout=settings.extract_fetch_timeout,
            deadline=settings.extract_fetch_timeout,
            allow_private=allow_private,
            headers={"User-Agent": "accord-extract/0.1"},
        )
    except ResponseTooLarge as exc:
        raise PayloadTooLarge(exc.message) from None
    except RemoteError as exc:  # the caller's URL: a request error, not the node's
        raise BadRequest(exc.message) from None
    return got.body, got.content_type


def _looks_binary(data: bytes) -> bool:
    """Whether undeclared content is neither a PDF nor text (many control bytes, or a NUL)."""
    if data.startswith(b"%PDF-"):
        return False
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut at the end of the sample
            controls = sum(1 for byte in sample if (byte < 32 and byte not in _TEXT_CONTROLS) or byte == 127)
            return controls > len(sample) // 50
    return False


def read_document(data: bytes, content_type: str | None, filename: str | None) -> tuple[str, str | None]:
    """(text, title) of a text, HTML or PDF document; UnsupportedMediaType or BadRequest otherwise."""
    if not data or data.isspace():  # not data.strip(): no copy of a large document to learn that
        raise BadRequest("the document is empty")
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared in ("", "application/octet-stream") and _looks_binary(data):
        raise UnsupportedMediaType(f"{filename or 'the document'} is binary data, not text, HTML or PDF")
    try:
        return text_from_bytes(data, content_type, filename)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("unsupported document type"):
            raise UnsupportedMediaType(f"{message} (text, HTML and PDF are supported)") from None
        raise BadRequest(message) from None


def extract_document(
    data: bytes,
    *,
    content_type: str | None = None,
    filename: str | None = None,
    title: str | None = None,
    created_by_ref: str | None = None,
    warninglists: bool = True,
    include_warninglisted: bool = False,
    id_seed: str | None = None,
) -> Extraction:
    """Findings and a STIX bundle (a report named after the document) for one document."""
    text, found_title = read_document(data, content_type, filename)
    name = (title or found_title or filename or DEFAULT_TITLE).strip()[:500] or DEFAULT_TITLE
    findings = extract(text)
    if warninglists:
        findings = _with_warninglists(findings)

    def bundle() -> dict[str, Any]:
        # stix_out (and its uuid and STIX id helpers) loads only when a bundle is asked for: not for JSON or a table.
        from accord.extract.stix_out import findings_to_bundle

        return findings_to_bundle(
            findings,
            title=name,
            created_by_ref=created_by_ref,
            include_warninglisted=include_warninglisted,
            text=text,
            id_seed=id_seed,
        )

    return Extraction(name, findings, bundle)


def warninglist_names(finding: Finding) -> list[str]:
    """The warninglists a finding is on."""
    return [flag[len(_WARNINGLIST) :] for flag in finding.flags if flag.startswith(_WARNINGLIST)]


def finding_dicts(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """[finding_dict(f) for f in findings], the findings without flags (most of a dense report's) made inline."""
    return [
        {
            "type": kind,
            "value": value,
            "start": start,
            "end": end,
            "context": context,
            "occurrences": occurrences,
            "flags": [],
            "aliases": [],
            "warninglists": [],
        }
        if not flags
        else finding_dict(finding)
        for finding in findings
        for kind, value, start, end, context, flags, occurrences in (finding,)
    ]


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as JSON: type, fanged value, offsets, context, occurrences, flags and warninglist hits."""
    kind, value, start, end, context, flags, occurrences = finding
    # Most findings of a dense report carry no flag: no list to filter (bench_extract.py, CLI rows).
    return {
        "type": kind,
        "value": value,
        "start": start,
        "end": end,
        "context": context,
        "occurrences": occurrences,
        "flags": [flag for flag in flags if not flag.startswith(_WARNINGLIST)] if flags else [],
        "aliases": [flag[len(_ALIAS) :] for flag in flags if flag.startswith(_ALIAS)] if flags else [],
        "warninglists": [flag[len(_WARNINGLIST) :] for flag in flags if flag.startswith(_WARNINGLIST)] if flags else [],
    }
