"""STIX content the browser tests store: payloads in every text field, a RED object, a graph to expand."""

from __future__ import annotations

import uuid
from typing import Any

RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
CREATED = "2026-11-01T00:00:00.000Z"
# Each payload would set window.__xss (to the payload's number) if the browser ran it.
PAYLOADS = (
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=2">',
    "javascript:window.__xss=3",
    '<svg onload="window.__xss=4"><script>window.__xss=4</script></svg>',
    '\'><iframe src="javascript:window.parent.__xss=5"></iframe>',
    '<a href="javascript:window.__xss=6" id="xss-link">click</a>',
    "</textarea><script>window.__xss=7</script>",
    "{{ 7*7 }}{% raw %}<style>body{display:none}</style>",
)
RED_NAME = "Alpha-only crown jewels"
RED_VALUE = "red-secret-c2.example"


def _id(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def _base(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "spec_version": "2.1", "id": _id(kind), "created": CREATED, "modified": CREATED, **extra}


def xss_bundle() -> tuple[dict[str, Any], list[str]]:
    """A bundle whose objects hold a payload in every text field; and the ids of its objects."""
    text = " ".join(PAYLOADS)
    indicator = _base(
        "indicator",
        name=PAYLOADS[0] + " indicator",
        description=text,
        pattern="[domain-name:value = 'xss-payload.example']",
        pattern_type="stix",
        valid_from=CREATED,
        labels=list(PAYLOADS),
        external_references=[
            {"source_name": PAYLOADS[1], "url": "javascript:window.__xss=8", "description": PAYLOADS[3]},
            {"source_name": "svg", "url": "data:image/svg+xml,<svg onload=window.__xss=9>"},
        ],
        x_note=PAYLOADS[4],
        object_marking_refs=[GREEN],
    )
    malware = _base("malware", name=PAYLOADS[1], description=PAYLOADS[2], is_family=True, object_marking_refs=[GREEN])
    relationship = _base(
        "relationship",
        relationship_type="indicates",
        source_ref=indicator["id"],
        target_ref=malware["id"],
        description=PAYLOADS[5],
        object_marking_refs=[GREEN],
    )
    report = _base(
        "report",
        name=PAYLOADS[6],
        description=PAYLOADS[7],
        published=CREATED,
        object_refs=[indicator["id"], malware["id"], relationship["id"]],
        object_marking_refs=[GREEN],
    )
    objects = [indicator, malware, relationship, report]
    return {"type": "bundle", "id": _id("bundle"), "objects": objects}, [o["id"] for o in objects]


def red_bundle() -> tuple[dict[str, Any], list[str]]:
    """A RED indicator, its malware and relationship (all RED): only their owner's organisation may see them."""
    indicator = _base(
        "indicator",
        name=RED_NAME,
        pattern=f"[domain-name:value = '{RED_VALUE}']",
        pattern_type="stix",
        valid_from=CREATED,
        object_marking_refs=[RED],
    )
    malware = _base("malware", name="Red malware family", is_family=True, object_marking_refs=[RED])
    relationship = _base(
        "relationship",
        relationship_type="indicates",
        source_ref=indicator["id"],
        target_ref=malware["id"],
        object_marking_refs=[RED],
    )
    objects = [indicator, malware, relationship]
    return {"type": "bundle", "id": _id("bundle"), "objects": objects}, [o["id"] for o in objects]


def star_bundle(arms: int) -> tuple[dict[str, Any], str, list[str]]:
    """One GREEN indicator related to `arms` malware objects; each malware related to one more tool."""
    hub = _base(
        "indicator",
        name="Hub indicator",
        pattern="[ipv4-addr:value = '203.0.113.77']",
        pattern_type="stix",
        valid_from=CREATED,
        object_marking_refs=[GREEN],
    )
    objects: list[dict[str, Any]] = [hub]
    malware_ids = []
    for n in range(arms):
        malware = _base("malware", name=f"Family {n}", is_family=True, object_marking_refs=[GREEN])
        tool = _base("tool", name=f"Tool of family {n}", object_marking_refs=[GREEN])
        rel = _base(
            "relationship",
            relationship_type="indicates",
            source_ref=hub["id"],
            target_ref=malware["id"],
            object_marking_refs=[GREEN],
        )
        uses = _base(
            "relationship",
            relationship_type="uses",
            source_ref=malware["id"],
            target_ref=tool["id"],
            object_marking_refs=[GREEN],
        )
        objects += [malware, tool, rel, uses]
        malware_ids.append(malware["id"])
    return {"type": "bundle", "id": _id("bundle"), "objects": objects}, hub["id"], malware_ids
