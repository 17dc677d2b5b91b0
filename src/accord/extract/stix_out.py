"""Turn extraction findings into a STIX 2.1 bundle: a report, indicators, observables and named threats.

Relationship heuristic: two findings are related when their first occurrences lie in the same paragraph of the
source text (paragraphs are separated by a blank line). Without the text, first occurrences within
``_NEAR`` characters of each other count as the same passage. Then ``indicates`` links each indicator to the
malware and intrusion sets of its passage, and ``uses`` links each intrusion set to the malware, tools and
attack patterns of its passage.

Bitcoin addresses have no STIX 2.1 observable: they become indicators whose pattern names the custom object
type ``x-crypto-wallet``. AS numbers become ``autonomous-system`` observables without an indicator.
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from accord.extract import galaxy
from accord.extract.engine import Finding
from accord.stix.ids import deterministic_sco_id

# Namespace for the ids of SDOs and relationships derived here, so re-running on the same report gives the
# same ids (SCOs use the spec's own namespace through deterministic_sco_id).
ACCORD_EXTRACT_NAMESPACE = uuid.UUID("6b1d3c52-4f0e-5c57-9a51-0e7f1a8c2d41")
_NEAR = 400
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}
_GALAXY_SDO = {"threat-actor": "intrusion-set", "malware": "malware", "tool": "tool"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _sdo_id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(ACCORD_EXTRACT_NAMESPACE, '|'.join((kind, *parts)))}"


def _literal(value: str) -> str:
    """A STIX pattern string literal: backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _observable(f: Finding) -> tuple[dict[str, Any] | None, str | None]:
    """(SCO, indicator pattern) for an observable finding; (None, None) for named threats and ids."""
    t, v = f.type, f.value
    sco: dict[str, Any] | None
    if t in ("ipv4-addr", "ipv4-cidr"):
        sco = {"type": "ipv4-addr", "value": v}
    elif t in ("ipv6-addr", "ipv6-cidr"):
        sco = {"type": "ipv6-addr", "value": v}
    elif t in ("domain-name", "url", "email-addr"):
        sco = {"type": t, "value": v}
    elif t in _HASH_NAMES:
        sco = {"type": "file", "hashes": {_HASH_NAMES[t]: v}}
        return sco, f"[file:hashes.{_literal(_HASH_NAMES[t])} = {_literal(v)}]"
    elif t == "file-name":
        sco = {"type": "file", "name": v}
        return sco, f"[file:name = {_literal(v)}]"
    elif t == "windows-registry-key":
        sco = {"type": "windows-registry-key", "key": v}
        return sco, f"[windows-registry-key:key = {_literal(v)}]"
    elif t == "asn":
        return {"type": "autonomous-system", "number": int(v[2:])}, None
    elif t == "bitcoin-address":
        # STIX 2.1 has no wallet observable; the pattern names a custom object type.
        return None, f"[x-crypto-wallet:value = {_literal(v)}]"
    else:
        return None, None
    return sco, f"[{sco['type']}:value = {_literal(v)}]"


def _passages(findings: Sequence[Finding], text: str | None) -> list[int]:
    """A passage number per finding, from the paragraph (or neighbourhood) of its first occurrence."""
    if text is not None:
        breaks = [m.end() for m in _PARAGRAPH_BREAK.finditer(text)]
        return [bisect_right(breaks, f.start) for f in findings]
    passage, last, out = 0, None, []
    for f in sorted(findings, key=lambda x: x.start):
        if last is not None and f.start - last > _NEAR:
            passage += 1
        last = f.start
        out.append((f, passage))
    order = {id(f): p for f, p in out}
    return [order[id(f)] for f in findings]


def _named(f: Finding, common: dict[str, Any], producer: str) -> dict[str, Any]:
    if f.type == "cve":
        return {
            **common,
            "type": "vulnerability",
            "id": _sdo_id("vulnerability", f.value, producer),
            "name": f.value,
            # No URL: the validator then asks for a hash of the page, and the id is the reference.
            "external_references": [{"source_name": "cve", "external_id": f.value}],
        }
    if f.type == "attack-technique":
        return {
            **common,
            "type": "attack-pattern",
            "id": _sdo_id("attack-pattern", f.value, producer),
            "name": galaxy.technique_names().get(f.value, f.value),
            "external_references": [{"source_name": "mitre-attack", "external_id": f.value}],
        }
    kind = _GALAXY_SDO[f.type]
    obj: dict[str, Any] = {**common, "type": kind, "id": _sdo_id(kind, f.value.lower(), producer), "name": f.value}
    aliases = sorted({flag[6:] for flag in f.flags if flag.startswith("alias:")} - {f.value})
    if kind == "malware":
        obj["is_family"] = True
    if aliases:
        obj["aliases"] = aliases
    return obj


def findings_to_bundle(
    findings: Iterable[Finding],
    *,
    title: str,
    published: str | None = None,
    created_by_ref: str | None = None,
    include_warninglisted: bool = False,
    text: str | None = None,
    id_seed: str | None = None,
) -> dict[str, Any]:
    """A STIX 2.1 bundle with a report referencing indicators, observables and named threats.

    `id_seed` (accord.store.derived) keys the derived ids of an organisation's bundle, so that others cannot
    compute them; without it they are derived from the producer alone.
    """
    findings = list(findings)
    now = _now()
    producer = id_seed or created_by_ref or ""
    common: dict[str, Any] = {"spec_version": "2.1", "created": now, "modified": now}
    if created_by_ref:
        common["created_by_ref"] = created_by_ref
    objects: dict[str, dict[str, Any]] = {}
    indicator_of: dict[int, str] = {}
    sdo_of: dict[int, str] = {}
    for index, f in enumerate(findings):
        sco, pattern = _observable(f)
        if sco is not None:
            sco_id = deterministic_sco_id(sco)
            objects.setdefault(sco_id or "", {"id": sco_id, "spec_version": "2.1", **sco})
        if sco is None and pattern is None:
            named = _named(f, common, producer)
            objects.setdefault(named["id"], named)
            sdo_of[index] = named["id"]
            continue
        listed = any(flag.startswith("warninglist:") for flag in f.flags)
        if pattern is None or (listed and not include_warninglisted):
            continue
        indicator_id = _sdo_id("indicator", pattern, producer)
        indicator_of[index] = indicator_id
        objects.setdefault(
            indicator_id,
            {
                **common,
                "type": "indicator",
                "id": indicator_id,
                "name": f.value,
                "description": f"{f.type} found in report {title!r}: {f.context}"[:1000],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": now,
                "indicator_types": ["malicious-activity"],
            },
        )
    _relate(findings, text, indicator_of, sdo_of, objects, common, producer)
    refs = [oid for oid in objects if not oid.startswith("relationship--")] + [
        oid for oid in objects if oid.startswith("relationship--")
    ]
    report_id = _sdo_id("report", title, producer, *sorted(refs))
    report = {
        **common,
        "type": "report",
        "id": report_id,
        "name": title,
        "published": published or now,
        "report_types": ["threat-report"],
        "object_refs": refs or [report_id],
    }
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [report, *objects.values()]}


def _relate(
    findings: Sequence[Finding],
    text: str | None,
    indicator_of: dict[int, str],
    sdo_of: dict[int, str],
    objects: dict[str, dict[str, Any]],
    common: dict[str, Any],
    producer: str,
) -> None:
    passage = _passages(findings, text)
    by_passage: dict[int, list[int]] = {}
    for index in range(len(findings)):
        by_passage.setdefault(passage[index], []).append(index)
    for members in by_passage.values():
        actors = [sdo_of[i] for i in members if i in sdo_of and findings[i].type == "threat-actor"]
        families = [sdo_of[i] for i in members if i in sdo_of and findings[i].type == "malware"]
        used = [
            sdo_of[i] for i in members if i in sdo_of and findings[i].type in ("malware", "tool", "attack-technique")
        ]
        pairs = [
            ("indicates", indicator_of[i], target)
            for i in members
            if i in indicator_of
            for target in (*families, *actors)
        ]
        pairs += [("uses", actor, target) for actor in actors for target in used]
        for rel_type, source, target in pairs:
            rel_id = _sdo_id("relationship", rel_type, source, target, producer)
            objects.setdefault(
                rel_id,
                {
                    **common,
                    "type": "relationship",
                    "id": rel_id,
                    "relationship_type": rel_type,
                    "source_ref": source,
                    "target_ref": target,
                },
            )
