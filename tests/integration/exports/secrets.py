"""Values another organisation must never receive: Alpha's TLP:RED, and its TLP:AMBER kept in its own collection."""

from __future__ import annotations

from typing import Any

from accord.accounts import service as accounts
from accord.core.clock import now_us
from accord.core.db import get_engine
from accord.stix.markings import Tlp
from accord.stix.timestamps import micros_to_timestamp
from accord.store.service import WriteContext, ingest
from tests.builders import TLP_IDS, make_indicator

RED = {
    "domain": "redsecret-alpha.net",
    "ip": "91.203.77.14",
    "url": "http://redsecret-alpha.org/drop.php",
    "sha256": "a1" * 32,
}
AMBER = {
    "domain": "ambersecret-alpha.net",
    "ip": "91.203.77.15",
    "url": "http://ambersecret-alpha.org/drop.php",
    "sha256": "b2" * 32,
}
_PATHS = {
    "domain": "domain-name:value",
    "ip": "ipv4-addr:value",
    "url": "url:value",
    "sha256": "file:hashes.'SHA-256'",
}


def indicator(kind: str, value: str, tlp: Tlp) -> dict[str, Any]:
    """A fresh, confident indicator for one value (active in every export made now)."""
    created = micros_to_timestamp(now_us() - 3_600_000_000)
    return make_indicator(
        tlp=tlp,
        created=created,
        pattern=f"[{_PATHS[kind]} = '{value}']",
        confidence=95,
        name=f"secret {kind}",
    )


def plant() -> dict[str, Any]:
    """Store Alpha's secrets: RED ones (and a GREEN report naming them) in the shared collection, AMBER internally."""
    red = [indicator(k, v, Tlp.RED) for k, v in RED.items()]
    amber = [indicator(k, v, Tlp.AMBER) for k, v in AMBER.items()]
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": "report--0c3f3d1e-7f55-4c1b-9e57-5d1f1f1a0001",
        "created": red[0]["created"],
        "modified": red[0]["created"],
        "published": red[0]["created"],
        "name": "Alpha secret campaign",
        "report_types": ["campaign"],
        "object_refs": [o["id"] for o in red + amber],
        "object_marking_refs": [TLP_IDS[Tlp.GREEN]],
    }
    with get_engine().begin() as conn:
        alpha = accounts.get_org_by_name_or_raise(conn, "CERT Alpha")
        shared = accounts.get_collection_by_alias_or_raise(conn, "shared")
        internal = accounts.get_collection_by_alias_or_raise(conn, "alpha-internal")
        assert ingest(conn, [*red, report], WriteContext(writer_org_id=alpha.id, collection_id=shared.id)).stored == 5
        assert ingest(conn, amber, WriteContext(writer_org_id=alpha.id, collection_id=internal.id)).stored == 4
    return report


def secret_values() -> list[str]:
    """Every planted value."""
    return [*RED.values(), *AMBER.values()]
