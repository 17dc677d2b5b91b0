"""Extraction drafts: findings and a STIX bundle kept for review, trimmed by a reviewer, then published.

A draft belongs to the organisation of the user who made it; other organisations cannot tell it exists.
Its bundle is owned by that organisation (`created_by_ref` is the organisation's identity), so publishing
stores it through the object store under W1/W2 like any other write, into a collection the publisher may write.
Each finding lists the ids of the bundle objects made from it, so a reviewer may drop a finding (by value)
or single objects (by id); relationships left without an end are dropped with them.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, Row

from accord.accounts import service as accounts
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Conflict, Forbidden, NotFound
from accord.extract import repository as repo
from accord.extract.service import Extraction, finding_dict
from accord.sharing.policy import Principal
from accord.stix.markings import TLP_MARKING_IDS, Tlp, tlp_marking_definition
from accord.stix.timestamps import micros_to_timestamp
from accord.store.service import WriteContext, ingest

MAX_LIST = 500


def _keys(obj: dict[str, Any]) -> set[str]:
    """The finding values an object was made from (as stix_out names, patterns and references them)."""
    kind = obj.get("type")
    if kind == "indicator":
        return {str(obj.get("name", ""))}
    if kind == "file":
        return {*(str(v) for v in obj.get("hashes", {}).values()), *([obj["name"]] if "name" in obj else [])}
    if kind == "windows-registry-key":
        return {str(obj.get("key", ""))}
    if kind == "autonomous-system":
        return {f"AS{obj.get('number')}"}
    if kind in ("vulnerability", "attack-pattern"):
        return {str(ref.get("external_id", "")) for ref in obj.get("external_references", ())}
    if kind in ("malware", "tool", "intrusion-set"):
        return {str(obj.get("name", ""))}
    if "value" in obj:
        return {str(obj["value"])}
    return set()


def _describe(extraction: Extraction) -> list[dict[str, Any]]:
    """Findings as JSON, each with the ids of the bundle objects made from it."""
    by_key: dict[str, list[str]] = {}
    for obj in extraction.bundle["objects"]:
        if obj["type"] in ("report", "relationship"):
            continue
        for key in _keys(obj):
            by_key.setdefault(key, []).append(obj["id"])
    return [finding_dict(f) | {"object_refs": by_key.get(f.value, [])} for f in extraction.findings]


def draft_read(row: Row[Any], *, full: bool = True) -> dict[str, Any]:
    """A draft as the API shows it (without findings and bundle in lists)."""
    findings = orjson.loads(row.findings)
    out: dict[str, Any] = {
        "id": row.id,
        "title": row.title,
        "status": row.status,
        "created": micros_to_timestamp(row.created_us),
        "collection": row.collection_alias,
        "published": micros_to_timestamp(row.published_us) if row.published_us else None,
        "finding_count": len(findings),
    }
    if full:
        out["findings"] = findings
        out["bundle"] = orjson.loads(row.bundle)
    return out


def create_draft(conn: Connection, principal: Principal, extraction: Extraction) -> dict[str, Any]:
    """Save an extraction (made with the organisation's identity as creator) as a draft of the caller's org."""
    draft_id = str(uuid.uuid4())
    repo.insert_draft(
        conn,
        {
            "id": draft_id,
            "org_id": principal.org_id,
            "user_id": principal.user_id,
            "created_us": now_us(),
            "title": extraction.title,
            "findings": orjson.dumps(_describe(extraction)),
            "bundle": orjson.dumps(extraction.bundle),
            "status": "draft",
        },
    )
    record(conn, _actor(principal), "extract.draft", draft_id, title=extraction.title)
    return get_draft_or_raise(conn, principal, draft_id)


def _actor(principal: Principal) -> str:
    return principal.email or f"org:{principal.org_id}"


def _row_or_raise(conn: Connection, principal: Principal, draft_id: str) -> Row[Any]:
    row = repo.get_draft(conn, draft_id, principal.org_id)
    if row is None:
        raise NotFound(f"no draft {draft_id!r}")
    return row


def get_draft_or_raise(conn: Connection, principal: Principal, draft_id: str) -> dict[str, Any]:
    """One draft of the caller's organisation; NotFound for missing drafts and other organisations' drafts."""
    return draft_read(_row_or_raise(conn, principal, draft_id))


def list_drafts(conn: Connection, principal: Principal, *, status: str | None, limit: int) -> list[dict[str, Any]]:
    """The caller's organisation's drafts, newest first (summaries)."""
    if status not in (None, "draft", "published"):
        raise BadRequest("status must be draft or published")
    rows = repo.list_drafts(conn, principal.org_id, status=status, limit=max(1, min(limit, MAX_LIST)))
    return [draft_read(row, full=False) for row in rows]


def _trim(bundle: dict[str, Any], drop: set[str]) -> list[dict[str, Any]]:
    """The bundle's objects without `drop`, relationships left dangling, and with the report's refs updated."""
    kept = [o for o in bundle["objects"] if o["id"] not in drop]
    ids = {o["id"] for o in kept}
    kept = [
        o for o in kept if o["type"] != "relationship" or (o.get("source_ref") in ids and o.get("target_ref") in ids)
    ]
    ids = {o["id"] for o in kept}
    for obj in kept:
        if obj["type"] == "report":
            refs = [ref for ref in obj["object_refs"] if ref in ids and ref != obj["id"]]
            obj["object_refs"] = refs or [obj["id"]]
    return kept


def exclude(conn: Connection, principal: Principal, draft_id: str, items: list[str]) -> dict[str, Any]:
    """Drop findings (by value) and bundle objects (by STIX id) from an unpublished draft; returns it."""
    if not principal.can_write:
        raise Forbidden("this token or role cannot write")
    row = _row_or_raise(conn, principal, draft_id)
    if row.status != "draft":
        raise Conflict("the draft is already published")
    findings: list[dict[str, Any]] = orjson.loads(row.findings)
    bundle: dict[str, Any] = orjson.loads(row.bundle)
    ids = {o["id"]: o["type"] for o in bundle["objects"]}
    values = {f["value"] for f in findings}
    unknown = [item for item in items if item not in ids and item not in values]
    if unknown:
        raise BadRequest(f"not in this draft: {', '.join(unknown[:5])}")
    if any(ids.get(item) == "report" for item in items):
        raise BadRequest("the report itself cannot be excluded; exclude what it refers to instead")
    drop = {item for item in items if item in ids}
    for finding in findings:
        if finding["value"] in items:
            drop.update(finding["object_refs"])
    bundle["objects"] = _trim(bundle, drop)
    remaining = {o["id"] for o in bundle["objects"]}
    kept_findings = []
    for finding in findings:
        if finding["value"] in items:
            continue
        refs = [ref for ref in finding["object_refs"] if ref in remaining]
        if finding["object_refs"] and not refs:
            continue  # every object made from it was dropped
        kept_findings.append(finding | {"object_refs": refs})
    if not repo.update_content(conn, draft_id, orjson.dumps(kept_findings), orjson.dumps(bundle)):
        raise Conflict("the draft is already published")
    record(conn, _actor(principal), "extract.review", draft_id, excluded=len(items))
    return get_draft_or_raise(conn, principal, draft_id)


def with_tlp(obj: dict[str, Any], tlp: Tlp) -> dict[str, Any]:
    """An object marked with one TLP level (TLP 2.0), in place of any TLP marking it had; other markings stay.

    Marking definitions and identities keep their markings: an organisation's identity is readable by all (R6).
    """
    if obj.get("type") in ("marking-definition", "identity"):
        return obj
    kept = [ref for ref in obj.get("object_marking_refs") or () if ref not in TLP_MARKING_IDS]
    return {**obj, "object_marking_refs": [*kept, tlp_marking_definition(tlp)["id"]]}


def publish(
    conn: Connection, principal: Principal, draft_id: str, collection_alias: str, tlp: Tlp | None = None
) -> dict[str, Any]:
    """Store a draft's bundle into a collection the caller may write (W1/W2 per object); once only.

    With `tlp`, every object is marked with that level; without, objects stay unmarked (the node's default TLP).
    """
    if not principal.can_write:
        raise Forbidden("this token or role cannot write")
    row = _row_or_raise(conn, principal, draft_id)
    target = accounts.get_writable_collection_or_raise(conn, principal, collection_alias)
    if row.status != "draft" or not repo.mark_published(conn, draft_id, target.id, now_us()):
        raise Conflict("the draft is already published")
    objects = orjson.loads(row.bundle)["objects"]
    if tlp is not None:
        objects = [with_tlp(obj, tlp) for obj in objects]
    ctx = WriteContext(writer_org_id=principal.org_id, collection_id=target.id, reader=principal)
    report = ingest(conn, objects, ctx)
    counts = {"stored": report.stored, "duplicates": report.duplicates, "refused": report.refused}
    marked = {"tlp": tlp.label} if tlp is not None else {}
    record(conn, _actor(principal), "extract.publish", target.alias, draft=draft_id, **counts, **marked)
    return {
        "id": draft_id,
        "status": "published",
        "collection": target.alias,
        "tlp": tlp.label if tlp is not None else None,
        **counts,
        "reasons": report.reasons[:20],
    }
