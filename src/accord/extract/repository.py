"""All SQL of extraction drafts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from accord.models.collections import collection
from accord.models.extract import extraction_drafts

_D = extraction_drafts.c


def insert_draft(conn: Connection, values: dict[str, Any]) -> None:
    """Store a new draft."""
    conn.execute(insert(extraction_drafts), values)  # given to execute: see accord.jobs.repository.enqueue_job


def _select() -> Any:
    return select(extraction_drafts, collection.c.alias.label("collection_alias")).outerjoin(
        collection, collection.c.id == _D.collection_id
    )


def get_draft(conn: Connection, draft_id: str, org_id: int) -> Row[Any] | None:
    """The draft of this organisation, or None (missing and other organisations' drafts look the same)."""
    return conn.execute(_select().where(_D.id == draft_id, _D.org_id == org_id)).first()


def list_drafts(conn: Connection, org_id: int, *, status: str | None, limit: int) -> list[Row[Any]]:
    """This organisation's drafts, newest first."""
    stmt = _select().where(_D.org_id == org_id)
    if status is not None:
        stmt = stmt.where(_D.status == status)
    return list(conn.execute(stmt.order_by(_D.created_us.desc(), _D.id).limit(limit)))


def update_content(conn: Connection, draft_id: str, findings: bytes, bundle: bytes) -> bool:
    """Replace an unpublished draft's findings and bundle; False when it is no longer a draft."""
    stmt = update(extraction_drafts).where(_D.id == draft_id, _D.status == "draft")
    # The findings and bundle given to execute, not kept by the statement cache (accord.jobs.repository).
    stmt = stmt.values(findings=bindparam("new_findings"), bundle=bindparam("new_bundle"))
    return conn.execute(stmt, {"new_findings": findings, "new_bundle": bundle}).rowcount == 1


def mark_published(conn: Connection, draft_id: str, collection_id: int, at_us: int) -> bool:
    """Flip a draft to published; False when it already was (so a concurrent second publish loses)."""
    stmt = (
        update(extraction_drafts)
        .where(_D.id == draft_id, _D.status == "draft")
        .values(status="published", collection_id=collection_id, published_us=at_us)
    )
    return conn.execute(stmt).rowcount == 1
