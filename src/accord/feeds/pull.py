"""Feed pulls: fetch outside any transaction, then store only what is new in one, and record the outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Engine

from accord.accounts.service import available_org_name, create_org, get_org, get_org_by_identity, identity_object
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.db import read_transaction, transaction
from accord.core.errors import AccordError, failure_line
from accord.core.settings import get_settings
from accord.feeds import repository as repo
from accord.feeds.collect import collect
from accord.feeds.collected import Collected, feed_tlp
from accord.feeds.errors import FeedError
from accord.feeds.misp import Creator
from accord.feeds.service import get_feed_or_raise
from accord.feeds.values import item_object
from accord.stix.markings import tlp_marking_definition
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros
from accord.store.prepare import Prepared, prepare
from accord.store.repository import lock_writers
from accord.store.service import IngestReport, WriteContext, ingest

log = logging.getLogger("accord.feeds")


@dataclass(slots=True)
class PullResult:
    """The outcome of one pull, as recorded in feed_pull."""

    feed: str
    status: str  # ok | error | not-modified
    http_status: int | None = None
    fetched_bytes: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    skipped: int = 0
    error: str | None = None
    reasons: list[str] = field(default_factory=list)


def _stable_items(conn: Connection, feed: Any, col: Collected, now: str) -> list[dict[str, Any]]:
    """Indicators for plain items, keeping each one's first-seen time so that unchanged values re-pull identically."""
    tlp = feed_tlp(feed)
    objects: dict[str, dict[str, Any]] = {}
    for item in col.items:
        obj = item_object(item, feed.name, now, tlp)
        if obj is not None:
            objects.setdefault(obj["id"], obj)
    stored = repo.latest_versions(conn, list(objects), feed.source_org_id, feed.peer_id)
    max_bytes = get_settings().max_object_bytes
    for oid, (created, version, body_hash) in stored.items():
        obj = objects[oid]
        first = created or version
        obj["created"] = first
        if "valid_from" in obj:
            obj["valid_from"] = first
        obj["modified"] = version
        prepared = prepare(obj, max_bytes, index=False)
        if not isinstance(prepared, Prepared) or prepared.body_hash != body_hash:
            # Changed (comment, TLP): a new version, strictly later than the stored one.
            obj["modified"] = max(now, _after(version))
    out = list(objects.values())
    if tlp is not None and out:
        out.insert(0, tlp_marking_definition(tlp))
    return out


def _after(version: str) -> str:
    return micros_to_timestamp(timestamp_to_micros(version) + 1)


def _store(conn: Connection, feed: Any, col: Collected, actor: str) -> IngestReport:
    # Under the store's writer lock from here: pulls that meet the same MISP creator make its record once.
    lock_writers(conn)
    owners = {identity: _creator_org(conn, feed, creator, actor) for identity, creator in col.creators.items()}
    speaks_for = repo.link_orgs(conn, feed.peer_id)
    if feed.format in ("text", "csv"):
        objects = _stable_items(conn, feed, col, micros_to_timestamp(now_us()))
    else:
        objects = col.objects
    groups = [(feed.source_org_id, objects), *((owners[i], col.by_creator[i]) for i in sorted(col.by_creator))]
    report = IngestReport()
    for owner, group in groups:
        if group:
            ctx = WriteContext(
                writer_org_id=feed.org_id,
                collection_id=feed.collection_id,
                peer_id=feed.peer_id,
                peer_org_ids=speaks_for,
                source_org_id=owner,
            )
            # The source's identity object arrives over the link too, so that the feed's organisation reads who
            # made what its feed brings (remote records are not community members: R6 does not cover them).
            # Not counted in the pull's figures (a no-op after the first pull).
            ingest(conn, [identity_object(get_org(conn, owner))], replace(ctx, collection_id=None))
            report.merge(ingest(conn, group, ctx))
    return report


def _creator_org(conn: Connection, feed: Any, creator: Creator, actor: str) -> int:
    """The record of a MISP event's creator (made when first met), which the feed's link then speaks for."""
    row = get_org_by_identity(conn, creator.identity)
    if row is None:
        name = available_org_name(conn, creator.name, f"MISP {creator.uuid[:8]}")
        row = create_org(conn, name, actor=actor, is_remote=True, stix_id=creator.identity)
    elif not row.is_remote:  # identities of creators derive from their uuid in Accord's namespace: never a local org's
        raise FeedError(f"MISP creator {creator.uuid} names a local organisation")
    repo.add_link_org(conn, feed.peer_id, row.id)
    return int(row.id)


def _finish(conn: Connection, feed: Any, result: PullResult, started: int, actor: str) -> None:
    finished = now_us()
    repo.insert_pull(
        conn,
        {
            "feed_id": feed.id,
            "started_us": started,
            "finished_us": finished,
            "status": result.status,
            "http_status": result.http_status,
            "fetched_bytes": result.fetched_bytes,
            "stored": result.stored,
            "duplicates": result.duplicates,
            "refused": result.refused,
            "error": result.error,
        },
    )
    repo.update_feed(conn, feed.id, {"last_pull_us": started, "last_status": result.status, "last_error": result.error})
    record(
        conn,
        actor,
        "feed.pull",
        feed.name,
        status=result.status,
        stored=result.stored,
        duplicates=result.duplicates,
        refused=result.refused,
        error=result.error,
    )


def pull_feed(engine: Engine, name: str, *, actor: str = "cli") -> PullResult:
    """Pull one feed: fetch outside any transaction, then store in one; a failure is recorded, nothing else."""
    with read_transaction(engine) as conn:
        feed = get_feed_or_raise(conn, name)
        seen = repo.marks(conn, feed.id)
    started = now_us()
    result = PullResult(feed.name, "ok")
    try:
        col = collect(feed, seen)
        result.http_status, result.fetched_bytes, result.status = col.http_status, col.fetched_bytes, col.status
        with transaction(engine) as conn:
            if col.status == "ok":
                report = _store(conn, feed, col, actor)
                result.stored, result.duplicates, result.refused = report.stored, report.duplicates, report.refused
                result.reasons = report.reasons + col.reasons
                result.skipped = col.skipped
                repo.set_marks(conn, feed.id, col.marks)
            repo.update_feed(conn, feed.id, col.state)
            _finish(conn, feed, result, started, actor)
        return result
    except AccordError as exc:
        result.error = exc.message
    except Exception as exc:  # a bug or a database failure must still leave a readable status
        log.exception("feed %s: pull failed", feed.name)
        result.error = failure_line(exc)
    result.status, result.stored, result.duplicates, result.refused = "error", 0, 0, 0
    with transaction(engine) as conn:
        _finish(conn, feed, result, started, actor)
    return result


def pull_feeds(engine: Engine, names: list[str] | None = None, *, due_only: bool = False) -> list[PullResult]:
    """Pull the named feeds, or every due feed (due_only) / every enabled feed; each in its own transaction."""
    with read_transaction(engine) as conn:
        if names:
            targets = [get_feed_or_raise(conn, n).name for n in names]
        elif due_only:
            ids = repo.due_feed_ids(conn, now_us())
            targets = [row.name for fid in ids if (row := repo.get_feed_by_id(conn, fid)) is not None]
        else:
            targets = [row.name for row in repo.list_feeds(conn) if row.enabled]
    return [pull_feed(engine, name) for name in targets]
