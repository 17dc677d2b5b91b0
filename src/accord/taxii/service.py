"""TAXII 2.1 reads: discovery, API roots, collections and policy-filtered pages of objects/manifest/versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row

from accord.core.errors import Forbidden, NotFound
from accord.core.settings import get_settings
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.stix.timestamps import micros_to_timestamp
from accord.taxii import repository as repo
from accord.taxii.filters import Endpoint, Filters
from accord.taxii.media import STIX_MEDIA, TAXII_MEDIA

PREFIX = "/taxii2"


def api_roots() -> list[str]:
    """The configured API root names (ACCORD_TAXII_API_ROOTS, comma-separated)."""
    names = [n.strip().strip("/") for n in get_settings().taxii_api_roots.split(",")]
    return [n for n in names if n] or ["api"]


def require_root(name: str) -> None:
    """NotFound unless `name` is a configured API root."""
    if name not in api_roots():
        raise NotFound(f"no API root {name!r}")


def discovery() -> dict[str, Any]:
    """The discovery resource."""
    roots = [f"{PREFIX}/{n}/" for n in api_roots()]
    return {
        "title": get_settings().taxii_title,
        "description": "Accord federated threat-intelligence sharing",
        "default": roots[0],
        "api_roots": roots,
    }


def api_root(name: str) -> dict[str, Any]:
    """The API root resource."""
    require_root(name)
    return {
        "title": f"{get_settings().taxii_title} ({name})",
        "versions": [TAXII_MEDIA],
        "max_content_length": get_settings().taxii_max_content_length,
    }


def may_read(principal: Principal, collection_id: int) -> bool:
    """Whether the caller may read this collection."""
    return principal.is_admin or collection_id in principal.readable_collections


def may_write(principal: Principal, collection_id: int) -> bool:
    """Whether the caller may write into this collection (role, token and grant)."""
    return principal.can_write and (principal.is_admin or collection_id in principal.writable_collections)


def _resource(row: Row[Any], principal: Principal) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.uuid,
        "title": row.title,
        "alias": row.alias,
        "can_read": may_read(principal, row.id),
        "can_write": may_write(principal, row.id),
        "media_types": [STIX_MEDIA],
    }
    if row.description:
        out["description"] = row.description
    return out


def collections(conn: Connection, principal: Principal) -> dict[str, Any]:
    """The collections resource: only collections the caller may read or write; {} when none."""
    rows = repo.visible_collections(conn, principal)
    return {"collections": [_resource(r, principal) for r in rows]} if rows else {}


def get_collection(conn: Connection, principal: Principal, key: str) -> Row[Any]:
    """A collection the caller may see (read or write); NotFound otherwise, as if it did not exist."""
    row = repo.find_collection(conn, key)
    if row is None or not (principal.is_admin or may_read(principal, row.id) or may_write(principal, row.id)):
        raise NotFound(f"no collection {key!r}")
    return row


def collection_resource(conn: Connection, principal: Principal, key: str) -> dict[str, Any]:
    """One collection resource."""
    return _resource(get_collection(conn, principal, key), principal)


def readable_collection(conn: Connection, principal: Principal, key: str) -> Row[Any]:
    """A collection the caller may read; 404 if it may not see it, 403 if it may only write."""
    row = get_collection(conn, principal, key)
    if not may_read(principal, row.id):
        raise Forbidden("this collection is write-only for you")
    return row


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered page and the date_added range of what it holds (None when empty)."""

    body: bytes
    first_us: int | None
    last_us: int | None

    def headers(self) -> dict[str, str]:
        """The X-TAXII-Date-Added-First/Last headers (only when the page holds items)."""
        if self.first_us is None or self.last_us is None:
            return {}
        return {
            "X-TAXII-Date-Added-First": micros_to_timestamp(self.first_us),
            "X-TAXII-Date-Added-Last": micros_to_timestamp(self.last_us),
        }


def version_of(version: str, tick: int) -> str:
    """An object's TAXII version: its own, else (no modified, no created: some SCOs) its date_added."""
    return version or micros_to_timestamp(tick)


def read_page(
    conn: Connection,
    principal: Principal,
    collection_key: str,
    f: Filters,
    endpoint: Endpoint,
    object_id: str | None = None,
) -> Page:
    """One page of objects, manifest entries or versions, exactly as the policy lets this caller see it."""
    coll = readable_collection(conn, principal, collection_key)
    settings = get_settings()
    cap = settings.taxii_page_limit
    limit = min(f.limit or settings.taxii_default_page, cap)
    scope = endpoint.value if object_id is None else f"{endpoint.value}:{object_id}"
    bound = cursors.binding(principal, f"taxii:{scope}", [coll.id, f.canonical()])
    after = f.added_after_us
    if f.next_token is not None:
        tick = cursors.read_cursor(f.next_token, bound)
        after = tick if after is None else max(after, tick)
    with_raw = endpoint in (Endpoint.OBJECTS, Endpoint.OBJECT)
    rows = repo.page(conn, principal, coll.id, f, after_tick=after, limit=limit, object_id=object_id, raw=with_raw)
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        if object_id is not None and not repo.object_visible(conn, principal, coll.id, object_id):
            raise NotFound(f"no object {object_id!r} in this collection")
        return Page(b"{}", None, None)
    head: dict[str, Any] = {"more": more}
    if more:
        head["next"] = cursors.make_cursor(rows[-1].tick, bound)
    if with_raw:
        # The stored bytes are served as they are: no per-object parse or re-serialisation.
        prefix = orjson.dumps(head)[:-1] + b',"objects":['
        body = prefix + b",".join(r.raw for r in rows) + b"]}"
    elif endpoint is Endpoint.MANIFEST:
        head["objects"] = [
            {
                "id": r.id,
                "date_added": micros_to_timestamp(r.tick),
                "version": version_of(r.version, r.tick),
                "media_type": STIX_MEDIA,
            }
            for r in rows
        ]
        body = orjson.dumps(head)
    else:
        head["versions"] = [version_of(r.version, r.tick) for r in rows]
        body = orjson.dumps(head)
    return Page(body, rows[0].tick, rows[-1].tick)
