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
