"""What a feed pull fetched, and the feed's default TLP given to its unmarked objects (shared by every format)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accord.feeds import misp
from accord.feeds.values import Item, marking_refs
from accord.stix.markings import Tlp


@dataclass(slots=True)
class Collected:
    """What one pull fetched: STIX objects or plain items, and the feed state to save if it is stored."""

    status: str = "ok"  # ok | not-modified
    http_status: int | None = None
    fetched_bytes: int = 0
    objects: list[dict[str, Any]] = field(default_factory=list)  # the feed's own source's
    # MISP events with a creator (Orgc): their objects by the creator's identity id, owned by its record.
    by_creator: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    creators: dict[str, misp.Creator] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    skipped: int = 0
    reasons: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, str] = field(default_factory=dict)


def feed_tlp(feed: Any) -> Tlp | None:
    """The feed's default TLP, or None."""
    return Tlp.parse(feed.tlp) if feed.tlp else None


def with_default_tlp(objects: list[Any], tlp: Tlp | None) -> list[Any]:
    """The objects, each unmarked one given the feed's TLP (marking definitions and bare values aside)."""
    if tlp is None:
        return objects
    refs = marking_refs(tlp)
    return [
        {**o, **refs}
        if isinstance(o, dict) and o.get("type") != "marking-definition" and "object_marking_refs" not in o
        else o
        for o in objects
    ]
