"""Value-index rows of stored STIX objects (see :mod:`accord.correlate.observables` for the row format)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from accord.correlate import _patterns
from accord.correlate.observables import (
    IndexValue,
    asn_row,
    cve_row,
    domain_key,
    domain_key_range,
    domain_parents,
    domain_row,
    email_row,
    exact_row,
    file_name_row,
    hash_kind,
    ip_range_bounds,
    ip_row,
    normalize,
    one_or_none,
    refang,
    registered_domain,
    registry_row,
    rows_for_kind,
    serial_row,
    url_rows,
)

__all__ = [
    "IndexValue",
    "domain_key",
    "domain_key_range",
    "domain_parents",
    "hash_kind",
    "ip_range_bounds",
    "normalize",
    "refang",
    "registered_domain",
    "rows_for_kind",
    "values_of",
]

# --------------------------------------------------------------------------------------------- STIX objects


def _hash_rows(hashes: Any) -> list[IndexValue]:
    if not isinstance(hashes, Mapping):
        return []
    return [
        tuple.__new__(IndexValue, (kind, v, v, None, None, True))  # no NamedTuple call overhead: hot path
        for algo, raw in hashes.items()
        if isinstance(raw, str) and (v := raw.strip().lower())
        for kind in (hash_kind(algo),)
    ]


def _str_field(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    return value if isinstance(value, str) else ""


def _sco_ip(obj: Mapping[str, Any]) -> list[IndexValue]:
    return one_or_none(ip_row(refang(_str_field(obj, "value"))))


def _sco_domain(obj: Mapping[str, Any]) -> list[IndexValue]:
    return one_or_none(domain_row(refang(_str_field(obj, "value"))))


def _sco_url(obj: Mapping[str, Any]) -> list[IndexValue]:
    return url_rows(_str_field(obj, "value"))


def _sco_email(obj: Mapping[str, Any]) -> list[IndexValue]:
    return one_or_none(email_row(_str_field(obj, "value")))


def _sco_file(obj: Mapping[str, Any]) -> list[IndexValue]:
    rows = _hash_rows(obj.get("hashes"))
    if name := _str_field(obj, "name"):
        rows += one_or_none(file_name_row(name))
    return rows


def _sco_artifact(obj: Mapping[str, Any]) -> list[IndexValue]:
    return _hash_rows(obj.get("hashes"))


def _sco_mutex(obj: Mapping[str, Any]) -> list[IndexValue]:
    return one_or_none(exact_row("mutex", _str_field(obj, "name")))


def _sco_registry(obj: Mapping[str, Any]) -> list[IndexValue]:
    return one_or_none(registry_row(_str_field(obj, "key")))


def _sco_asn(obj: Mapping[str, Any]) -> list[IndexValue]:
    number = obj.get("number")
    return one_or_none(asn_row(str(number))) if isinstance(number, int | str) else []


def _sco_x509(obj: Mapping[str, Any]) -> list[IndexValue]:
    rows = _hash_rows(obj.get("hashes"))
    if serial := _str_field(obj, "serial_number"):
        rows += one_or_none(serial_row(serial))
    return rows


def _sco_network_traffic(obj: Mapping[str, Any]) -> list[IndexValue]:
    extensions = obj.get("extensions")
    ext = extensions.get("http-request-ext") if isinstance(extensions, Mapping) else None
    headers = ext.get("request_header") if isinstance(ext, Mapping) else None
    if not isinstance(headers, Mapping):
        return []
    # HTTP header names are case-insensitive.
    return [
        row
        for name, value in headers.items()
        if name.lower() == "user-agent" and isinstance(value, str)
        for row in one_or_none(exact_row("user-agent", value))
    ]


def _cve_refs(obj: Mapping[str, Any]) -> list[IndexValue]:
    rows = one_or_none(cve_row(_str_field(obj, "name")))
    for ref in obj.get("external_references") or ():
        if isinstance(ref, Mapping) and str(ref.get("source_name", "")).lower() == "cve":
            rows += one_or_none(cve_row(str(ref.get("external_id", ""))))
    return rows


def _indicator(obj: Mapping[str, Any]) -> list[IndexValue]:
    pattern = obj.get("pattern")
    if obj.get("pattern_type", "stix") != "stix" or not isinstance(pattern, str):
        return []
    return _pattern_rows(pattern)


# Link rows (kinds 'ref:...', never correlating) let lookups reach reports, relationships and sightings through
# the same index. A sighting's row carries its last-seen time in `lo` and its count in `hi`.
def _report_refs(obj: Mapping[str, Any]) -> list[IndexValue]:
    refs = obj.get("object_refs")
    if not isinstance(refs, list):
        return []
    unique = dict.fromkeys(ref for ref in refs if isinstance(ref, str))
    return [IndexValue("ref:report", ref, ref, correlating=False) for ref in unique]


def _relationship_refs(obj: Mapping[str, Any]) -> list[IndexValue]:
    source, target = obj.get("source_ref"), obj.get("target_ref")
    if not isinstance(source, str) or not isinstance(target, str):
        return []
    rows = [IndexValue("ref:relationship", target, source, correlating=False)]
    if source != target:
        rows.append(IndexValue("ref:relationship", source, target, correlating=False))
    return rows


def _sighting_ref(obj: Mapping[str, Any]) -> list[IndexValue]:
    ref = obj.get("sighting_of_ref")
    if not isinstance(ref, str):
        return []
    seen = obj.get("last_seen") or obj.get("first_seen") or obj.get("modified") or obj.get("created")
    count = obj.get("count")
    return [
        IndexValue(
            "ref:sighting",
            ref,
            ref,
            seen if isinstance(seen, str) else None,
            str(count if isinstance(count, int) and count >= 0 else 1),
            False,
        )
    ]


_OBJECT_HANDLERS: dict[str, Callable[[Mapping[str, Any]], list[IndexValue]]] = {
    "ipv4-addr": _sco_ip,
    "ipv6-addr": _sco_ip,
    "domain-name": _sco_domain,
    "url": _sco_url,
    "email-addr": _sco_email,
    "file": _sco_file,
    "artifact": _sco_artifact,
    "mutex": _sco_mutex,
    "windows-registry-key": _sco_registry,
    "autonomous-system": _sco_asn,
    "x509-certificate": _sco_x509,
    "network-traffic": _sco_network_traffic,
    "indicator": _indicator,
    "vulnerability": _cve_refs,
    "report": _report_refs,
    "relationship": _relationship_refs,
    "sighting": _sighting_ref,
}


def _dedupe(rows: Iterable[IndexValue]) -> list[IndexValue]:
    # A value both matched (=) and merely mentioned (LIKE, !=) in one pattern correlates.
    seen: dict[tuple[str, str, str | None, str | None], IndexValue] = {}
    for row in rows:
        ident = (row.kind, row.key, row.lo, row.hi)
        prior = seen.get(ident)
        if prior is None or (row.correlating and not prior.correlating):
            seen[ident] = row
    return list(seen.values())


def values_of(obj: Mapping[str, Any]) -> list[IndexValue]:
    """The deduplicated value-index rows of one STIX 2.1 object ([] for types that carry no observables)."""
    handler = _OBJECT_HANDLERS.get(obj.get("type", ""))
    if handler is None:
        return []
    rows = handler(obj)
    return _dedupe(rows) if len(rows) > 1 else rows


# --------------------------------------------------------------------------------------------- patterns


def _pattern_rows(pattern: str) -> list[IndexValue]:
    rows: list[IndexValue] = []
    for comp in _patterns.comparisons(pattern):
        kind = _patterns.kind_for_path(comp.object_type, comp.path)
        if kind is None:
            continue
        operator = comp.operator
        if operator == "=" and not comp.negated and type(comp.value) is str and kind != "ip-or-domain":
            rows += rows_for_kind(kind, comp.value)  # the common case, without the general bookkeeping
            continue
        correlating = not comp.negated and (operator in ("=", "IN") or (operator == "ISSUBSET" and kind == "ip"))
        values: Sequence[Any] = comp.value if isinstance(comp.value, list | tuple) else [comp.value]
        display_kind = "domain" if kind == "ip-or-domain" else kind
        for value in values:
            text = (value if isinstance(value, str) else str(value)).strip()
            if operator in ("LIKE", "MATCHES"):
                # Wildcards and regexes are not values: show them exactly as written, never match them.
                rows.append(IndexValue(display_kind, text, text, correlating=False))
                continue
            found = rows_for_kind(kind, text) if kind != "ip-or-domain" else _ip_or_domain(text)
            if not correlating:
                # Only the operand itself is shown: a URL's host was not what the pattern excluded.
                found = [row._replace(correlating=False) for row in found[:1]]
                if not found and text:
                    found = [IndexValue(display_kind, text, text, correlating=False)]
            rows += found
    return rows


def _ip_or_domain(text: str) -> list[IndexValue]:
    return one_or_none(ip_row(refang(text))) or one_or_none(domain_row(refang(text)))
