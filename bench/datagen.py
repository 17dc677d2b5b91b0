"""Deterministic generated STIX content for the benchmarks."""

from __future__ import annotations

import random
import uuid
from typing import Any

NS = uuid.UUID("0b7c5cf6-6b5e-4e63-9a6b-2a8d7a7e2f11")
SCO_NS = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")


def _ts(i: int, frac: int = 0) -> str:
    day = 1 + (i // 86400) % 28
    s = i % 86400
    return f"2026-03-{day:02d}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac:03d}Z"


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(NS, "/".join(map(str, parts))))


def indicator(i: int, seed: str = "b", created_by_ref: str | None = None) -> dict[str, Any]:
    """One realistic indicator with a unique value."""
    t = _ts(i)
    kind = i % 4
    if kind == 0:
        pattern = f"[ipv4-addr:value = '{(i >> 16) % 223 + 1}.{(i >> 8) % 256}.{i % 256}.{(i * 7) % 254 + 1}']"
    elif kind == 1:
        pattern = f"[domain-name:value = 'host{i}.{seed}-example{i % 97}.com']"
    elif kind == 2:
        pattern = f"[url:value = 'https://cdn{i % 50}.{seed}-files.net/p/{i}.php']"
    else:
        pattern = f"[file:hashes.'SHA-256' = '{uuid.uuid5(NS, f'{seed}{i}').hex}{uuid.uuid5(NS, f'{seed}{i}x').hex}']"
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{_uid(seed, 'ind', i)}",
        "created": t,
        "modified": t,
        "name": f"Generated indicator {i}",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": t,
        "indicator_types": ["malicious-activity"],
        "confidence": 60 + i % 40,
        "labels": ["generated"],
    }
    if created_by_ref:
        obj["created_by_ref"] = created_by_ref
    return obj


def mixed(n: int, seed: str = "m") -> list[dict[str, Any]]:
    """n objects: 60% indicators, SCOs, relationships, reports, ~3% second versions, 1% invalid."""
    rng = random.Random(42)
    out: list[dict[str, Any]] = []
    inds: list[dict[str, Any]] = []
    malware = []
    for i in range(50):
        t = _ts(i)
        malware.append(
            {
                "type": "malware",
                "spec_version": "2.1",
                "id": f"malware--{_uid(seed, 'mw', i)}",
                "created": t,
                "modified": t,
                "name": f"Family {i}",
                "is_family": True,
            }
        )
    out += malware
    i = 0
    while len(out) < n:
        i += 1
        r = rng.random()
        if r < 0.60:
            ind = indicator(i, seed)
            inds.append(ind)
            out.append(ind)
        elif r < 0.78:
            value = f"{(i >> 16) % 223 + 1}.{(i >> 8) % 256}.{i % 256}.{(i * 13) % 254 + 1}"
            body = f'{{"value":"{value}"}}'
            out.append(
                {
                    "type": "ipv4-addr",
                    "spec_version": "2.1",
                    "value": value,
                    "id": f"ipv4-addr--{uuid.uuid5(SCO_NS, body)}",
                }
            )
        elif r < 0.93 and inds:
            src = inds[-1]
            t = src["created"]
            out.append(
                {
                    "type": "relationship",
                    "spec_version": "2.1",
                    "id": f"relationship--{_uid(seed, 'rel', i)}",
                    "created": t,
                    "modified": t,
                    "relationship_type": "indicates",
                    "source_ref": src["id"],
                    "target_ref": rng.choice(malware)["id"],
                }
            )
        elif r < 0.96 and len(inds) > 20:
            t = _ts(i)
            out.append(
                {
                    "type": "report",
                    "spec_version": "2.1",
                    "id": f"report--{_uid(seed, 'rep', i)}",
                    "created": t,
                    "modified": t,
                    "name": f"Report {i}",
                    "published": t,
                    "object_refs": [x["id"] for x in inds[-20:]],
                }
            )
        elif r < 0.99 and inds:
            prev = rng.choice(inds[-100:])
            out.append(
                {
                    **prev,
                    "modified": prev["modified"].replace(".000Z", f".{rng.randint(1, 999):03d}Z"),
                    "confidence": 99,
                }
            )
        else:
            bad = indicator(i, seed)
            bad["pattern"] = "[ipv4-addr:value = "
            bad["id"] = f"indicator--{_uid(seed, 'bad', i)}"
            out.append(bad)
    return out[:n]


def bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap objects in a bundle."""
    return {"type": "bundle", "id": f"bundle--{_uid('bundle', len(objects))}", "objects": objects}


def cpu_probe(runs: int = 5) -> float:
    """Milliseconds a fixed pure-Python loop takes (median of `runs`): how fast this shared machine is right now.

    Printed next to results so that runs at different moments can be compared (lower is faster).
    """
    import statistics
    import time

    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sum(i * i for i in range(200_000))
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)
