"""Feeds: configuration (pulls are in accord.feeds.pull).

A feed belongs to one local organisation. What it brings arrives over the feed's link (a `peer` row of kind
'feed' whose local organisation is the feed's) and is owned by a record of its source (a remote organisation):
the feed's own source record, or for a MISP event the record of the organisation that created it (its Orgc).
The sharing policy then lets the feed's organisation read it at every TLP, and other readers of the feed's
collection CLEAR and GREEN only (R1, R4).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from accord.accounts.service import (
    available_org_name,
    create_org,
    forget_credentials,
    get_collection_by_alias_or_raise,
    get_org,
    get_org_by_name_or_raise,
    host_org,
)
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Conflict, NotFound
from accord.core.keys import encrypt_secret
from accord.feeds import repository as repo
from accord.feeds.collect import FORMATS
from accord.feeds.parse import parse_columns
from accord.feeds.values import kind_for
from accord.remote.http import RemoteError, check_url
from accord.sharing.repository import collections_for_org
from accord.stix.markings import Tlp

log = logging.getLogger("accord.feeds")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
MAX_PASSWORD = 500  # what the column held before it stored ciphertext (migration 0011 can restore it)
LINK_PREFIX = "feed:"  # a feed's link is named "feed:<feed name>", and so is its source record

MAX_EVERY_MINUTES = 525_600  # a year: past it a schedule is no schedule, and larger numbers overflow the column
MAX_FEED_BYTES = 1 << 40  # 1 TiB: far past any feed, and inside the 64-bit column


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
    if spec.every_minutes is not None and not 1 <= spec.every_minutes <= MAX_EVERY_MINUTES:
        raise BadRequest(f"--every must be from 1 to {MAX_EVERY_MINUTES:,} minutes (a year)")
    if spec.format == "taxii" and not spec.taxii_collection:
        raise BadRequest("a taxii feed needs --taxii-collection (the remote collection id)")
    if not 0 < _timeout(spec) <= 600 or not 1 <= spec.max_bytes <= MAX_FEED_BYTES:
        raise BadRequest(f"timeout must be within (0, 600] seconds, the size limit from 1 to {MAX_FEED_BYTES:,} bytes")
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


def _collection_id(conn: Connection, owner: Any, alias: str | None) -> int | None:
    """The id of the collection a feed of this organisation publishes into (W1: one it may write), or None."""
    if not alias:
        return None
    collection_id = int(get_collection_by_alias_or_raise(conn, alias).id)
    if collection_id not in collections_for_org(conn, owner.id, "write"):
        raise BadRequest(
            f"organisation {owner.name!r} may not write collection {alias!r}; a feed publishes as its organisation (W1)"
        )
    return collection_id


def _tlp_name(tlp: str | None) -> str | None:
    return Tlp.parse(tlp).name.lower().replace("_", "+") if tlp else None


def add_feed(conn: Connection, spec: FeedSpec, *, actor: str = "cli") -> Any:
    """Configure a new feed of a local organisation, with its link and the record of its source."""
    _check_spec(spec)
    if repo.get_feed(conn, spec.name) is not None:
        raise Conflict(f"feed {spec.name!r} already exists")
    owner = _feed_org(conn, spec.org)
    collection_id = _collection_id(conn, owner, spec.collection)
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
    values["tlp"] = _tlp_name(spec.tlp)
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
    forget_credentials(conn)  # the organisation's principals now read what the new link brings
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


# What `edit_feed` may change; those that may also be cleared (with None or '', every_minutes with 0 too).
EDITABLE = frozenset(
    {
        "url",
        "format",
        "collection",
        "tlp",
        "every_minutes",
        "taxii_collection",
        "username",
        "password",
        "timeout_seconds",
        "max_bytes",
        "item_type",
        "csv_columns",
        "delimiter",
        "skip_header",
        "enabled",
    }
)
CLEARABLE = frozenset(
    {"collection", "tlp", "every_minutes", "taxii_collection", "username", "password", "item_type", "csv_columns"}
)
# Where content comes from: the validators, TAXII cursor and delivered MISP events of the old source say nothing
# about a new one.
SOURCE_FIELDS = frozenset({"url", "format", "taxii_collection"})
# How a body is read: the next pull reads it again, even unchanged, so that the new reading applies.
READING_FIELDS = frozenset({"item_type", "csv_columns", "delimiter", "skip_header", "tlp"})
VALIDATORS = {"etag": None, "last_modified": None, "content_hash": None}


def _cleared(key: str, value: Any) -> Any:
    if value == "" or (key == "every_minutes" and value == 0):
        return None
    return value


def edit_feed(conn: Connection, name: str, *, actor: str = "cli", **changes: Any) -> Any:
    """Change a feed's settings (see EDITABLE); a re-enabled feed is due at once. Its password is never audited."""
    row = get_feed_or_raise(conn, name)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise BadRequest(f"feeds have no setting {', '.join(sorted(unknown))}")
    if not changes:
        raise BadRequest("nothing to change")
    changes = {k: _cleared(k, v) for k, v in changes.items()}
    fixed = sorted(k for k, v in changes.items() if v is None and k not in CLEARABLE)
    if fixed:
        raise BadRequest(f"{', '.join(fixed)} cannot be cleared")
    if "format" in changes:
        changes["format"] = str(changes["format"]).lower()
        if "timeout_seconds" not in changes and row.timeout_seconds == default_timeout(row.format):
            changes["timeout_seconds"] = default_timeout(changes["format"])  # a default follows its format
    kept = {k: getattr(row, k) for k in FeedSpec.__dataclass_fields__ if k not in ("collection", "org", "password")}
    spec_changes = {k: v for k, v in changes.items() if k in FeedSpec.__dataclass_fields__ and k != "collection"}
    _check_spec(FeedSpec(**{**kept, "password": None, **spec_changes}))  # one validator for add and edit

    values = {k: v for k, v in changes.items() if k not in ("collection", "password", "tlp")}
    if "collection" in changes:
        values["collection_id"] = _collection_id(conn, get_org(conn, row.org_id), changes["collection"])
    if "tlp" in changes:
        values["tlp"] = _tlp_name(changes["tlp"])
    if "password" in changes:
        values["password"] = encrypt_secret(changes["password"]) if changes["password"] is not None else None
    if "username" in changes and changes["username"] is None:
        values["password"] = None  # a password without its user is never sent: it goes with the user
    changed = sorted(k for k, v in values.items() if k == "password" or v != getattr(row, k))

    if SOURCE_FIELDS.intersection(changed):
        values.update(VALIDATORS, cursor=None)
        repo.delete_marks(conn, row.id)
        if "url" in changed:
            repo.update_link(conn, row.peer_id, {"url": values["url"]})
    elif READING_FIELDS.intersection(changed):
        values.update(VALIDATORS)
    if values.get("enabled") and not row.enabled:
        values["last_pull_us"] = None  # due at once (the pull history keeps when it last ran)
    repo.update_feed(conn, row.id, values)
    record(conn, actor, "feed.edit", name, changed=[k.removesuffix("_id") for k in changed])
    return get_feed_or_raise(conn, name)


def remove_feed(conn: Connection, name: str, *, actor: str = "cli") -> None:
    """Remove a feed, its pulls and marks. What it brought stays with its provenance (its link row is kept,
    renamed and of kind 'gone', so that its name is free again; its source record stays)."""
    row = get_feed_or_raise(conn, name)
    pulls = repo.delete_feed(conn, row.id)
    link_name = f"removed:{row.peer_id}:{LINK_PREFIX}{row.name}"[:200]
    repo.update_link(conn, row.peer_id, {"name": link_name, "kind": "gone", "enabled": False})
    record(conn, actor, "feed.remove", name, pulls=pulls)


def next_due_us(row: Any, now: int) -> int | None:
    """When the worker next pulls this feed (now, if it is due), or None: disabled or pulled only on demand."""
    if not row.enabled or not row.every_minutes:
        return None
    if row.last_pull_us is None:
        return now
    return max(now, int(row.last_pull_us) + int(row.every_minutes) * 60_000_000)
