"""Feeds: configuration, and pulls that store only what is new, each in its own transaction.

A feed belongs to one local organisation. What it brings arrives over the feed's link (a `peer` row of kind
'feed' whose local organisation is the feed's) and is owned by a record of its source (a remote organisation):
the feed's own source record, or for a MISP event the record of the organisation that created it (its Orgc).
The sharing policy then lets the feed's organisation read it at every TLP, and other readers of the feed's
collection CLEAR and GREEN only (R1, R4).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, Engine

from accord.accounts.service import (
    available_org_name,
    create_org,
    forget_credentials,
    get_collection_by_alias_or_raise,
    get_org,
    get_org_by_identity,
    get_org_by_name_or_raise,
    host_org,
    identity_object,
)
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.db import read_transaction, transaction
from accord.core.errors import AccordError, BadRequest, Conflict, NotFound
from accord.core.keys import encrypt_secret
from accord.core.settings import get_settings
from accord.feeds import repository as repo
from accord.feeds.collect import FORMATS, Collected, collect, feed_tlp
from accord.feeds.errors import FeedError
from accord.feeds.misp import Creator
from accord.feeds.parse import parse_columns
from accord.feeds.values import item_object, kind_for
from accord.remote.http import RemoteError, check_url
from accord.sharing.repository import collections_for_org
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros
from accord.store.prepare import Prepared, prepare
from accord.store.repository import lock_writers
from accord.store.service import IngestReport, WriteContext, ingest

log = logging.getLogger("accord.feeds")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
MAX_PASSWORD = 500  # what the column held before it stored ciphertext (migration 0011 can restore it)
LINK_PREFIX = "feed:"  # a feed's link is named "feed:<feed name>", and so is its source record


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What `accord feed add` configures."""

    name: str
    url: str
    format: str
    collection: str | None = None
    org: str | None = None  # the local organisation it belongs to (default: the host organisation)
    item_type: str | None = None
    csv_columns: str | None = None
    delimiter: str = ","
    skip_header: bool = False
    tlp: str | None = None
    every_minutes: int | None = None
    taxii_collection: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # stored encrypted (accord.core.keys)
    timeout_seconds: float | None = None  # default: default_timeout(format)
    max_bytes: int = 104_857_600


def default_timeout(fmt: str) -> float:
    """Seconds per request a feed of this format gets unless told: TAXII servers can take a minute per page."""
    return 120.0 if fmt == "taxii" else 30.0


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


def _timeout(spec: FeedSpec) -> float:
    return default_timeout(spec.format) if spec.timeout_seconds is None else spec.timeout_seconds


def _check_spec(spec: FeedSpec) -> None:
    if not NAME_RE.match(spec.name):
        raise BadRequest("feed name must be 1-100 characters of letters, digits, space, '.', '_' or '-'")
    if spec.format not in FORMATS:
        raise BadRequest(f"unknown feed format {spec.format!r}; use one of {', '.join(FORMATS)}")
    try:
        check_url(spec.url)
        if spec.item_type:
            kind_for(spec.item_type)
        if spec.csv_columns:
            parse_columns(spec.csv_columns)
        if spec.tlp:
            Tlp.parse(spec.tlp)
    except (ValueError, RemoteError) as exc:
        raise BadRequest(str(exc)) from None
    if spec.every_minutes is not None and spec.every_minutes < 1:
        raise BadRequest("--every must be at least 1 minute")
    if spec.format == "taxii" and not spec.taxii_collection:
        raise BadRequest("a taxii feed needs --taxii-collection (the remote collection id)")
    if not 0 < _timeout(spec) <= 600 or spec.max_bytes < 1:
        raise BadRequest("timeout must be within (0, 600] seconds and the size limit positive")
    if len(spec.delimiter) != 1:
        raise BadRequest("the CSV delimiter must be one character")
    if spec.password is not None and len(spec.password) > MAX_PASSWORD:
        raise BadRequest(f"the feed password must be at most {MAX_PASSWORD} characters")


def _feed_org(conn: Connection, name: str | None) -> Any:
    """The local organisation a new feed belongs to: the named one, else the host organisation."""
    if name is None:
        host = host_org(conn)
        if host is None:
            raise BadRequest("the node has no host organisation: run `accord init` first, or name the feed's --org")
        return host
    row = get_org_by_name_or_raise(conn, name)
    if row.is_remote:
        raise BadRequest(f"organisation {row.name!r} is a record of a remote one; feeds belong to local organisations")
    return row


def add_feed(conn: Connection, spec: FeedSpec, *, actor: str = "cli") -> Any:
    """Configure a new feed of a local organisation, with its link and the record of its source."""
    _check_spec(spec)
    if repo.get_feed(conn, spec.name) is not None:
        raise Conflict(f"feed {spec.name!r} already exists")
    owner = _feed_org(conn, spec.org)
    collection_id = get_collection_by_alias_or_raise(conn, spec.collection).id if spec.collection else None
    if collection_id is not None and collection_id not in collections_for_org(conn, owner.id, "write"):
        raise BadRequest(
            f"organisation {owner.name!r} may not write collection {spec.collection!r}; "
            "a feed publishes as its organisation (W1)"
        )
    link_name = LINK_PREFIX + spec.name
    if repo.link_exists(conn, link_name):
        raise Conflict(f"a link named {link_name!r} already exists")
    now = now_us()
    link_id = repo.insert_link(
        conn, {"name": link_name, "url": spec.url, "local_org_id": owner.id, "kind": "feed", "created_us": now}
    )
    source = create_org(conn, available_org_name(conn, link_name, "source"), actor=actor, is_remote=True)
    repo.add_link_org(conn, link_id, source.id)
    values = {k: getattr(spec, k) for k in FeedSpec.__dataclass_fields__ if k not in ("collection", "org")}
    if spec.password is not None:
        values["password"] = encrypt_secret(spec.password)
    values["tlp"] = Tlp.parse(spec.tlp).name.lower().replace("_", "+") if spec.tlp else None
    values["timeout_seconds"] = _timeout(spec)
    values.update(
        collection_id=collection_id,
        org_id=owner.id,
        peer_id=link_id,
        source_org_id=source.id,
        enabled=True,
        created_us=now,
    )
    repo.insert_feed(conn, values)
    forget_credentials()  # the organisation's principals now read what the new link brings
    record(
        conn,
        actor,
        "feed.add",
        spec.name,
        url=spec.url,
        format=spec.format,
        collection=spec.collection,
        org=owner.name,
    )
    return get_feed_or_raise(conn, spec.name)


def get_feed_or_raise(conn: Connection, name: str) -> Any:
    """The feed with this name, or NotFound."""
    row = repo.get_feed(conn, name)
    if row is None:
        raise NotFound(f"no feed named {name!r}")
    return row


def list_feeds(conn: Connection) -> list[Any]:
    """Every feed with its organisation, link, source and the figures of its latest pull."""
    return repo.list_feeds(conn)


def describe_feed(conn: Connection, name: str) -> tuple[Any, list[str]]:
    """One feed as list_feeds gives it, and the names of the sources its link speaks for; NotFound."""
    row = repo.describe_feed(conn, name)
    if row is None:
        raise NotFound(f"no feed named {name!r}")
    return row, repo.link_org_names(conn, row.peer_id)


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
        result.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
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
