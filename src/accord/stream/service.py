"""A caller's tail of one collection: new readable versions and visible removals, in tick order, resumable.

Each poll is one short read transaction (nothing is held open between polls, and on SQLite a reader never blocks
writers): the additions and removals after the position, a batch at a time, with the policy deciding per row
what the caller sees. Ticks come from the node clock, which writers hold until they commit, so what commits later
always has a later tick and a keyset tail misses nothing. The position moves past rows the caller may not see
without saying so: event ids are opaque cursors (accord.sharing.cursors), bound to the caller and the collection,
so neither gaps nor counts show (R7).

The policy clause uses the principal resolved when the stream opened: a grant withdrawn or a token revoked
meanwhile takes effect when the client reconnects (issue 23 tightens this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Row

from accord.core.db import read_transaction
from accord.core.errors import NotFound
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.stream import repository as repo
from accord.taxii import repository as taxii_repo
from accord.taxii.service import may_read

BATCH = 500  # rows read per poll at most; a poll that fills it is followed at once by the next


@dataclass(frozen=True, slots=True)
class Event:
    """One stream event: `object` (data: the STIX object) or `removed`; id is the cursor to resume after it."""

    event: str
    id: str
    data: bytes


class Tail:
    """One caller's position in one readable collection."""

    def __init__(
        self, principal: Principal, collection: Row[Any], position: int, *, removals_only: bool = False
    ) -> None:
        self.principal = principal
        self.removals_only = removals_only
        self.collection_id: int = collection.id
        self.collection_uuid: str = collection.uuid
        self.position = position
        self.bound = stream_binding(principal, collection.id)

    def poll(self, limit: int = BATCH) -> tuple[list[Event], bool]:
        """The events after the position (at most `limit` rows read); whether more may be waiting already."""
        with read_transaction() as conn:
            rows = repo.events_after(
                conn, self.principal, self.collection_id, self.position, limit, removals_only=self.removals_only
            )
        events = [self._event(r) for r in rows if r.visible]
        if rows:
            self.position = rows[-1].tick
        return events, len(rows) >= limit

    def cursor(self) -> str:
        """A fresh cursor for the current position (keep-alives refresh the client's, so that it never expires)."""
        return cursors.make_cursor(self.position, self.bound)

    def _event(self, row: Row[Any]) -> Event:
        cursor = cursors.make_cursor(row.tick, self.bound)
        if row.kind == repo.REMOVED:
            body: dict[str, str] = {"id": row.id}
            if row.version:  # objects without modified or created (some SCOs) have one version: the id says it
                body["version"] = row.version
            body["collection"] = self.collection_uuid
            return Event("removed", cursor, orjson.dumps(body))
        raw: bytes = row.raw
        if b"\n" in raw or b"\r" in raw:  # an SSE data line is one line: JSON whitespace is all a raw body may hold
            raw = orjson.dumps(orjson.loads(raw))
        return Event("object", cursor, raw)


def stream_binding(principal: Principal, collection_id: int) -> bytes:
    """What a stream cursor is valid for: this caller and this collection."""
    return cursors.binding(principal, "rest:stream", [collection_id])


def open_tail(
    principal: Principal,
    collection_key: str,
    last_event_id: str | None,
    *,
    from_start: bool,
    removals_only: bool = False,
) -> Tail:
    """A tail of a collection the caller may read (by id or alias; NotFound otherwise, R7), resuming strictly
    after `last_event_id` when given, else from the beginning (`from_start`) or from now."""
    with read_transaction() as conn:
        row = taxii_repo.find_collection(conn, collection_key)
        if row is None or not may_read(principal, row.id):
            raise NotFound(f"no collection {collection_key!r}")
        if last_event_id is not None:
            position = cursors.read_cursor(last_event_id, stream_binding(principal, row.id), param="Last-Event-ID")
        elif from_start:
            position = 0
        else:
            position = repo.last_tick(conn, row.id)
    return Tail(principal, row, position, removals_only=removals_only)
