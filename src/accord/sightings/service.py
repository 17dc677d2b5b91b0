"""Recording sightings: a STIX `sighting` by the caller's organisation, stored through the object store.

A sighting of a bare value needs something to point at (``sighting_of_ref`` names an SDO): the caller's
organisation gets an indicator for the value with an id derived from (organisation, kind, value) and a secret of
the node (accord.store.derived: no other writer can post under it first), created on first use and reused after,
so repeated sightings of one value gather on one indicator. Who may see the
sighting is then decided by the policy, like any object (its collection and TLP).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from accord.accounts.service import get_writable_collection_or_raise
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Forbidden, NotFound
from accord.correlate import repository as repo
from accord.correlate.values import IndexValue, normalize
from accord.sharing.policy import Principal
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros
from accord.store.derived import id_seed
from accord.store.repository import org_identity
from accord.store.service import WriteContext, ingest

_NS = uuid.UUID("5f1b7e0c-3c1a-4f0e-9b8e-6c0a5e2d4a11")
_HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512", "ssdeep": "SSDEEP"}
_PATHS = {
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "mutex": "mutex:name",
    "registry-key": "windows-registry-key:key",
}


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern_for(row: IndexValue) -> str:
    """A STIX pattern matching one normalised value; BadRequest for kinds a pattern cannot name."""
    if row.kind == "ip":
        return f"[{'ipv6-addr' if ':' in row.value else 'ipv4-addr'}:value = {_quote(row.value)}]"
    if row.kind.startswith("hash:"):
        algo = row.kind.partition(":")[2]
        name = _HASH_NAMES.get(algo, algo.upper())
        return f"[file:hashes.{_quote(name)} = {_quote(row.value)}]"
    if row.kind == "asn":
        return f"[autonomous-system:number = {int(row.value[2:])}]"
    path = _PATHS.get(row.kind)
    if path is None:
        raise BadRequest(f"cannot record a sighting of a {row.kind} value; sight an object by id instead")
    return f"[{path} = {_quote(row.value)}]"


def _seen_time(seen: str | None) -> str:
    if seen is None:
        return micros_to_timestamp(now_us())
    try:
        return micros_to_timestamp(timestamp_to_micros(seen))
    except ValueError:
        raise BadRequest(f"seen: {seen!r} is not a STIX timestamp") from None


def record_sighting(
    conn: Connection,
    principal: Principal,
    *,
    collection: str,
    value: str | None = None,
    object_id: str | None = None,
    count: int = 1,
    seen: str | None = None,
    tlp: str | None = None,
) -> dict[str, Any]:
    """Store a sighting by the caller's org of a value or of a readable object; returns the ids involved."""
    if (value is None) == (object_id is None):
        raise BadRequest("give exactly one of value or object_id")
    if not principal.can_write:
        raise Forbidden("this token or role cannot write")
    if not 1 <= count <= 999_999_999:
        raise BadRequest("count must be between 1 and 999999999")
    try:
        marking = [tlp_marking_definition(Tlp.parse(tlp))["id"]] if tlp else []
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    target = get_writable_collection_or_raise(conn, principal, collection)
    identity = org_identity(conn, principal.org_id)
    at = _seen_time(seen)
    stamp = micros_to_timestamp(now_us())
    objects: list[dict[str, Any]] = []
    created_indicator = False
    if object_id is not None:
        if repo.latest_readable(conn, principal, object_id) is None:
            raise NotFound(f"no object {object_id}")
        ref = object_id
    else:
        rows = normalize(None, value or "")
        if not rows:
            raise BadRequest(f"{value!r} is not a value Accord recognises")
        row = rows[0]
        ref = f"indicator--{uuid.uuid5(_NS, f'{id_seed(conn, principal.org_id)}|{row.kind}|{row.value}')}"
        if repo.latest_readable(conn, principal, ref) is None:
            created_indicator = True
            indicator = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": ref,
                "created": stamp,
                "modified": stamp,
                "created_by_ref": identity,
                "name": row.value,
                "pattern": pattern_for(row),
                "pattern_type": "stix",
                "valid_from": at,
                "indicator_types": ["unknown"],
            }
            objects.append(indicator | ({"object_marking_refs": marking} if marking else {}))
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": identity,
        "sighting_of_ref": ref,
        "count": count,
        "first_seen": at,
        "last_seen": at,
        "where_sighted_refs": [identity],
    }
    objects.append(sighting | ({"object_marking_refs": marking} if marking else {}))
    ctx = WriteContext(writer_org_id=principal.org_id, collection_id=target.id, reader=principal)
    report = ingest(conn, objects, ctx)
    if report.refused:
        raise BadRequest("; ".join(report.reasons) or "the sighting was refused")
    return {"id": sighting["id"], "sighting_of_ref": ref, "indicator_created": created_indicator}
