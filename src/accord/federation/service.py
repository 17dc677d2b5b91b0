"""Peers: other nodes or any TAXII 2.1 server, each a link of one local organisation (R4), and their subscriptions.

A peer is reached at a TAXII API root (or its discovery URL) with a bearer token kept encrypted with the node key.
What arrives over it is owned by the records of the organisations that made it (`created_by_ref`, met on the
way) or else by the peer's own record; the link's local organisation reads it at every TLP, others CLEAR and
GREEN only (R1, R4). A push reads as the peer's record (F1): what a sync account of that organisation here would
read, never what came from the peer itself (F2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from accord.accounts.service import (
    available_org_name,
    create_org,
    forget_credentials,
    get_collection_by_alias_or_raise,
    get_org_by_name,
    get_org_by_name_or_raise,
)
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import AccordError, BadRequest, Conflict, NotFound
from accord.core.keys import encrypt_secret, parse_public_key
from accord.federation import repository as repo
from accord.remote.http import check_url
from accord.sharing.repository import collections_for_org

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DIRECTIONS = ("pull", "push")
MIN_EVERY_SECONDS = 1
MAX_EVERY_SECONDS = 31_536_000  # a year: larger numbers are no schedule, and past 64 bits they overflow the column


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """What `accord peer add` configures."""

    name: str
    url: str
    org: str  # the local organisation the link belongs to (R4)
    token: str | None = None
    username: str | None = None  # HTTP Basic (servers such as medallion): the token is then its password
    allow_private: bool = False
    public_key: str | None = None
    remote_org: str | None = None  # the record of the peer's organisation (default: a new one named after it)
    timeout_seconds: float = 120.0


def _check(spec: PeerSpec) -> None:
    if not NAME_RE.match(spec.name):
        raise BadRequest("peer name must be 1-100 characters of letters, digits, '.', '_' or '-'")
    try:
        check_url(spec.url)
    except AccordError as exc:
        raise BadRequest(exc.message) from None
    if not 0 < spec.timeout_seconds <= 3600:
        raise BadRequest("the timeout must be within (0, 3600] seconds")
    if spec.token is not None and (not spec.token.strip() or any(c in spec.token for c in "\r\n")):
        raise BadRequest("the peer's token is empty or spans lines")
    if spec.username is not None:
        _check_username(spec.username)
    if spec.username and not spec.token:
        raise BadRequest("a username needs its password: give it with --token-env or --token-file")


def _check_username(username: str) -> None:
    if not username.strip() or ":" in username or len(username) > 200:
        raise BadRequest("the username must be 1-200 characters without ':'")


def _local_org(conn: Connection, name: str) -> Any:
    row = get_org_by_name_or_raise(conn, name)
    if row.is_remote:
        raise BadRequest(f"organisation {row.name!r} is a record of a remote one; a peer belongs to a local one")
    return row


def _remote_record(conn: Connection, spec: PeerSpec, actor: str) -> Any:
    """The record of the peer's organisation: the named one (made when new), else a new one named after the peer."""
    if spec.remote_org:
        row = get_org_by_name(conn, spec.remote_org)
        if row is not None:
            return row
        return create_org(conn, spec.remote_org, actor=actor, is_remote=True)
    return create_org(conn, available_org_name(conn, spec.name, "peer"), actor=actor, is_remote=True)


def add_peer(conn: Connection, spec: PeerSpec, *, actor: str = "cli") -> Any:
    """Register a peer of a local organisation; its token is stored encrypted, never shown again."""
    _check(spec)
    if repo.get_peer(conn, spec.name) is not None or _link_taken(conn, spec.name):
        raise Conflict(f"peer {spec.name!r} already exists")
    local = _local_org(conn, spec.org)
    public_key = parse_public_key(spec.public_key) if spec.public_key else None
    remote = _remote_record(conn, spec, actor)
    if remote.id == local.id:
        raise BadRequest("the peer's organisation record must not be the local organisation it belongs to")
    peer_id = repo.insert_peer(
        conn,
        {
            "name": spec.name,
            "url": spec.url.strip(),
            "local_org_id": local.id,
            "created_us": now_us(),
            "secret": encrypt_secret(spec.token) if spec.token else None,
            "username": spec.username or None,
            "allow_private": spec.allow_private,
            "public_key": public_key,
            "source_org_id": remote.id,
            "enabled": True,
            "timeout_seconds": spec.timeout_seconds,
        },
    )
    from accord.feeds.repository import add_link_org

    add_link_org(conn, peer_id, remote.id)
    forget_credentials(conn)  # the local organisation's principals now read what the new link brings
    record(
        conn,
        actor,
        "peer.add",
        spec.name,
        url=spec.url,
        org=local.name,
        remote_org=remote.name,
        signed=public_key is not None,
        allow_private=spec.allow_private,
    )
    return get_peer_or_raise(conn, spec.name)


def _link_taken(conn: Connection, name: str) -> bool:
    from accord.feeds.repository import link_exists

    return link_exists(conn, name)


def get_peer_or_raise(conn: Connection, name: str) -> Any:
    """The peer with this name, or NotFound."""
    row = repo.get_peer(conn, name)
    if row is None:
        raise NotFound(f"no peer named {name!r}")
    return row


def list_peers(conn: Connection) -> list[Any]:
    """Every peer, by name."""
    return repo.list_peers(conn)


def edit_peer(
    conn: Connection,
    name: str,
    *,
    url: str | None = None,
    token: str | None = None,
    username: str | None = None,
    public_key: str | None = None,
    allow_private: bool | None = None,
    enabled: bool | None = None,
    timeout_seconds: float | None = None,
    actor: str = "cli",
) -> Any:
    """Change a peer's settings; a re-enabled peer is tried at once (its backoff is forgotten)."""
    row = get_peer_or_raise(conn, name)
    values: dict[str, Any] = {}
    if url is not None:
        _check(PeerSpec(name=name, url=url, org=""))
        values["url"] = url.strip()
    if token is not None:
        _check(PeerSpec(name=name, url=row.url, org="", token=token))
        values["secret"] = encrypt_secret(token)
    if username:
        _check_username(username)
        if not (token or row.secret):
            raise BadRequest("a username needs its password: give it with --token-env or --token-file")
    if username is not None:
        values["username"] = username or None
    if public_key is not None:
        values["public_key"] = parse_public_key(public_key) if public_key else None
    if allow_private is not None:
        values["allow_private"] = allow_private
    if enabled is not None:
        values["enabled"] = enabled
    if timeout_seconds is not None:
        _check(PeerSpec(name=name, url=row.url, org="", timeout_seconds=timeout_seconds))
        values["timeout_seconds"] = timeout_seconds
    if not values:
        raise BadRequest("nothing to change")
    repo.update_peer(conn, row.id, values)
    if enabled:
        for sub in repo.list_subscriptions(conn, row.id):
            repo.update_subscription(conn, sub.id, {"failures": 0, "next_run_us": None})
    # The names of what changed only (as feed.edit): the audit log refuses a "secret" key, whatever its value.
    record(conn, actor, "peer.edit", name, changed=sorted(values))
    return get_peer_or_raise(conn, name)


def remove_peer(conn: Connection, name: str, *, actor: str = "cli") -> None:
    """Stop talking to a peer: its subscriptions and token go. What it brought stays, with its provenance (the
    link row is kept, renamed, so that its name is free again)."""
    row = get_peer_or_raise(conn, name)
    removed = repo.delete_subscriptions(conn, row.id)
    repo.update_peer(
        conn, row.id, {"name": f"removed:{row.id}:{row.name}"[:200], "kind": "gone", "secret": None, "enabled": False}
    )
    record(conn, actor, "peer.remove", name, subscriptions=removed)


def subscribe(
    conn: Connection,
    name: str,
    direction: str,
    *,
    remote_collection: str,
    collection: str,
    live: bool = False,
    every_seconds: int | None = None,
    actor: str = "cli",
) -> Any:
    """Add (or change) a pull or push subscription between a remote collection and a local one."""
    if direction not in DIRECTIONS:
        raise BadRequest(f"direction must be one of {', '.join(DIRECTIONS)}")
    row = get_peer_or_raise(conn, name)
    remote_collection = remote_collection.strip()
    if not remote_collection or len(remote_collection) > 200 or "/" in remote_collection:
        raise BadRequest("the remote collection must be a TAXII collection id")
    if every_seconds is not None and not MIN_EVERY_SECONDS <= every_seconds <= MAX_EVERY_SECONDS:
        raise BadRequest(f"--every must be from {MIN_EVERY_SECONDS} to {MAX_EVERY_SECONDS:,} seconds (a year)")
    if live and direction != "pull":
        raise BadRequest("--live applies to pulls")
    coll = get_collection_by_alias_or_raise(conn, collection)
    if direction == "pull" and coll.id not in collections_for_org(conn, row.local_org_id, "write"):
        raise BadRequest(
            f"organisation {row.org_name!r} may not write collection {collection!r}; "
            "what a pull brings is published as the peer's organisation (W1)"
        )
    found = repo.find_subscription(conn, row.id, direction, remote_collection, coll.id)
    values = {"live": live, "every_seconds": every_seconds, "enabled": True}
    if found is not None:
        repo.update_subscription(conn, found.id, values)
        sub_id = found.id
    else:
        sub_id = repo.insert_subscription(
            conn,
            {
                "peer_id": row.id,
                "direction": direction,
                "remote_collection": remote_collection,
                "collection_id": coll.id,
                "watermark": None,
                "watermark_partial": False,
                # A push starts with what the collection holds now and what comes after: everything.
                "position": 0,
                "created_us": now_us(),
                "failures": 0,
                **dict.fromkeys(("received", "stored", "duplicates", "refused", "removed", "sent"), 0),
                **values,
            },
        )
    record(
        conn,
        actor,
        f"peer.{direction}",
        name,
        remote_collection=remote_collection,
        collection=collection,
        live=live,
        every_seconds=every_seconds,
    )
    sub = repo.get_subscription(conn, sub_id)
    assert sub is not None
    return sub


def unsubscribe(conn: Connection, name: str, direction: str, remote_collection: str, collection: str) -> None:
    """Remove one subscription; NotFound when there is none."""
    row = get_peer_or_raise(conn, name)
    coll = get_collection_by_alias_or_raise(conn, collection)
    found = repo.find_subscription(conn, row.id, direction, remote_collection, coll.id)
    if found is None:
        raise NotFound(f"peer {name!r} has no {direction} of {remote_collection!r} and {collection!r}")
    repo.update_subscription(conn, found.id, {"enabled": False})
    record(conn, "cli", f"peer.un{direction}", name, remote_collection=remote_collection, collection=collection)


def subscriptions(conn: Connection, name: str | None = None) -> list[Any]:
    """The subscriptions of one peer (or all), with their state and totals."""
    peer_id = get_peer_or_raise(conn, name).id if name else None
    return repo.list_subscriptions(conn, peer_id)
