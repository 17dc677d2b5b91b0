"""Export readable objects as a STIX 2.1 bundle, streamed (every row passes the sharing policy)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import IO

from sqlalchemy import Connection, select

from accord.models.objects import collection_object, stix_object
from accord.sharing.policy import Principal, visible_versions_clause

PAGE = 5_000


def iter_raw(
    conn: Connection, principal: Principal, *, collection_id: int | None, all_versions: bool
) -> Iterator[bytes]:
    """Raw JSON of the readable objects (latest readable versions unless all_versions), in seq order."""
    o = stix_object.c
    scope = None
    if collection_id is not None:

        def scope(newer):  # type: ignore[no-untyped-def]
            return newer.c.seq.in_(
                select(collection_object.c.object_seq).where(collection_object.c.collection_id == collection_id)
            )

    where = [visible_versions_clause(principal, stix_object, latest_only=not all_versions, scope=scope)]
    if collection_id is not None:
        where.append(
            o.seq.in_(select(collection_object.c.object_seq).where(collection_object.c.collection_id == collection_id))
        )
    last = -1
    while True:
        rows = conn.execute(select(o.seq, o.raw).where(o.seq > last, *where).order_by(o.seq).limit(PAGE)).all()
        if not rows:
            return
        for row in rows:
            yield row.raw
        last = rows[-1].seq


def write_bundle(chunks: Iterator[bytes], out: IO[bytes]) -> int:
    """Write a bundle around raw objects; returns how many objects were written."""
    out.write(b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":[')
    count = 0
    for raw in chunks:
        if count:
            out.write(b",")
        out.write(raw)
        count += 1
    out.write(b"]}\n")
    return count
