"""STIX 2.1 bundles: of every readable object, or of one report and everything it references the caller may read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import orjson
from sqlalchemy import Connection

from accord.core.errors import NotFound
from accord.exports import source
from accord.exports.source import ExportQuery
from accord.sharing.policy import Principal
from accord.store.export import iter_raw


def report_raw(conn: Connection, principal: Principal, report_id: str) -> Iterator[bytes]:
    """The report, the readable objects it references, and their creators' identities and markings."""
    rows = source.objects_by_id(conn, principal, [report_id])
    if not rows or rows[0].type != "report":
        raise NotFound(f"no report {report_id!r}")
    report = orjson.loads(rows[0].raw)
    refs = [r for r in report.get("object_refs") or () if isinstance(r, str) and r != report_id]
    referenced = source.objects_by_id(conn, principal, refs)
    wanted: dict[str, None] = {}
    for raw in [rows[0].raw, *(r.raw for r in referenced)]:
        obj = orjson.loads(raw)
        if isinstance(obj.get("created_by_ref"), str):
            wanted[obj["created_by_ref"]] = None
        for ref in obj.get("object_marking_refs") or ():
            if isinstance(ref, str):
                wanted[ref] = None
    have = {str(r.id) for r in referenced} | {report_id}
    extra = source.objects_by_id(conn, principal, [i for i in wanted if i not in have])
    for row in [*extra, rows[0], *referenced]:
        yield bytes(row.raw)


def bundle(conn: Connection, principal: Principal, report_id: str | None, query: ExportQuery) -> Iterator[bytes]:
    """A bundle streamed object by object (every object read through the sharing policy)."""
    if report_id is not None:
        raws = report_raw(conn, principal, report_id)
    else:
        raws = iter_raw(conn, principal, collection_id=query.collection_id, all_versions=False)
    first = next(raws, None)  # a missing report is a 404 before any byte is sent
    return _wrapped(first, raws)


def _wrapped(first: bytes | None, raws: Iterator[bytes]) -> Iterator[bytes]:
    yield b'{"type":"bundle","id":"bundle--' + str(uuid.uuid4()).encode() + b'","objects":['
    if first is not None:
        yield first
        for raw in raws:
            yield b"," + raw
    yield b"]}\n"
