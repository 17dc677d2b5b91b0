"""Exports: one request shape for every format, its cheap validator (ETag, Last-Modified) and its stream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import orjson
from sqlalchemy import Connection

from accord.accounts import service as accounts
from accord.core.errors import BadRequest, NotFound
from accord.core.settings import get_settings
from accord.correlate.warninglists import active_matcher, active_names
from accord.exports import active, misp, source
from accord.exports.lists import BLOCKLIST_KINDS, blocklist, csv_rows, parse_columns
from accord.exports.source import DAY_US, ExportQuery, Item
from accord.sharing.policy import Principal
from accord.stix.markings import Tlp
from accord.stix.timestamps import timestamp_to_micros

FORMATS = ("stix", "misp", "csv", "blocklist", "suricata", "rpz")
MEDIA_TYPES = {
    "stix": "application/stix+json;version=2.1",
    "misp": "application/json",
    "csv": "text/csv; charset=utf-8",
    "blocklist": "text/plain; charset=utf-8",
    "suricata": "text/plain; charset=utf-8",
    "rpz": "text/dns; charset=utf-8",
}
_HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """An export as the CLI or HTTP asks for it (names, not ids)."""

    fmt: str
    collection: str | None = None
    types: str | None = None  # comma-separated export kinds
    since: str | None = None  # STIX timestamp or YYYY-MM-DD: objects added since
    min_score: float | None = None
    warninglists: str = "omit"
    columns: str | None = None  # csv
    report: str | None = None  # stix / misp: one report and what it references
    group: str = "report"  # misp: one event per report, or per collection and day


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated export: the query it runs and what its answer looks like."""

    request: ExportRequest
    query: ExportQuery
    collection_alias: str | None
    columns: tuple[str, ...] = ()

    @property
    def media_type(self) -> str:
        """The Content-Type of the answer."""
        return MEDIA_TYPES[self.request.fmt]


def _since(text: str) -> int:
    value = text.strip()
    try:
        return timestamp_to_micros(value if "T" in value else f"{value}T00:00:00Z")
    except ValueError:
        raise BadRequest(f"since: {text!r} is not a STIX timestamp or a date (YYYY-MM-DD)") from None


def _kinds(fmt: str, text: str | None) -> frozenset[str] | None:
    if not text:
        return None
    kinds = frozenset(k.strip().lower() for k in text.split(",") if k.strip())
    known = set(BLOCKLIST_KINDS) | set(misp.MISP_TYPES)
    unknown = sorted(kinds - known)
    if unknown:
        raise BadRequest(f"type: unknown value kind {unknown[0]!r}; choose from {', '.join(sorted(known))}")
    return kinds


def readable_collection(conn: Connection, principal: Principal, alias: str) -> Any:
    """The collection the caller may read or write; NotFound (the same answer as a missing one) otherwise."""
    row = accounts.get_collection_by_alias_or_raise(conn, alias)
    if principal.is_admin or row.id in principal.readable_collections or row.id in principal.writable_collections:
        return row
    raise NotFound(f"no collection {alias!r}")


def prepare(conn: Connection, principal: Principal, req: ExportRequest, *, now_us: int | None = None) -> Prepared:
    """Check an export request and resolve its names; BadRequest / NotFound with a precise message."""
    if req.fmt not in FORMATS:
        raise BadRequest(f"unknown export format {req.fmt!r}; choose one of {', '.join(FORMATS)}")
    if req.warninglists not in source.WARNINGLIST_MODES:
        raise BadRequest(f"warninglists: choose omit or mark, not {req.warninglists!r}")
    if req.group not in ("report", "day"):
        raise BadRequest(f"group: choose report or day, not {req.group!r}")
    if req.min_score is not None and not 0 <= req.min_score <= 100:
        raise BadRequest("min_score must be between 0 and 100")
    if req.report is not None and req.fmt not in ("stix", "misp"):
        raise BadRequest("report: only the stix and misp formats export one report")
    try:
        columns = parse_columns(req.columns) if req.fmt == "csv" else ()
    except ValueError as exc:
        raise BadRequest(f"columns: {exc}") from None
    collection_id = None
    if req.collection:
        collection_id = int(readable_collection(conn, principal, req.collection).id)
    if req.report is not None:
        found = source.objects_by_id(conn, principal, [req.report])
        if not found or found[0].type != "report":
            raise NotFound(f"no report {req.report!r}")
    kinds = _kinds(req.fmt, req.types)
    if req.fmt == "blocklist" and (kinds is None or len(kinds) != 1 or not kinds <= set(BLOCKLIST_KINDS)):
        raise BadRequest(f"type: a blocklist holds one kind of value; choose one of {', '.join(BLOCKLIST_KINDS)}")
    query = ExportQuery(
        collection_id=collection_id,
        kinds=kinds,
        since_us=_since(req.since) if req.since else None,
        min_score=req.min_score,
        warninglists="omit" if req.fmt in ("blocklist", "suricata", "rpz") else req.warninglists,
        stix_types=("indicator",) if req.fmt in ("blocklist", "suricata", "rpz") else source.VALUE_TYPES,
    )
    if now_us is not None:
        query = replace(query, now_us=now_us)
    return Prepared(req, query, req.collection, columns)


def validator(conn: Connection, principal: Principal, prep: Prepared) -> tuple[str, int]:
    """(ETag, Last-Modified in epoch seconds) of an export, without generating it.

    The node clock advances with every stored version, membership and removal; the caller's grants, the node's
    default TLP and the active warninglists decide what it sees; scores decay, so an answer that depends on
    them changes at least every hour.
    """
    marker = source.change_marker(conn)
    scored = prep.request.fmt != "stix"
    hour = prep.query.now_us // _HOUR_US * _HOUR_US if scored else 0
    facts = [
        prep.request.fmt,
        repr(prep.request),
        principal.org_id,
        principal.role.value,
        sorted(principal.readable_collections),
        sorted(principal.writable_collections),
        sorted(principal.amber_peers),
        get_settings().default_tlp,
        list(active_names() or ()),
        marker,
        hour,
    ]
    digest = hashlib.sha256(orjson.dumps(facts, default=str)).hexdigest()[:32]
    return f'"{digest}"', max(marker, hour) // 1_000_000


# An export reads a store once from end to end: a large page cache or memory map would only hold pages it never
# reads again, and grow the process with the store (bench/bench_exports.py). Restored when the export ends.
EXPORT_CACHE_KB = 16_384


def stream(conn: Connection, principal: Principal, prep: Prepared) -> Iterator[bytes]:
    """The export's bytes, page by page, read with a bounded SQLite page cache and no memory map."""
    chunks = _stream(conn, principal, prep)
    if conn.dialect.name != "sqlite":
        return chunks
    return _bounded(conn, chunks)


def _bounded(conn: Connection, chunks: Iterator[bytes]) -> Iterator[bytes]:
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    mmap = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{EXPORT_CACHE_KB}")
    conn.exec_driver_sql("PRAGMA mmap_size=0")
    try:
        yield from chunks
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache or 0)}")
        conn.exec_driver_sql(f"PRAGMA mmap_size={int(mmap or 0)}")


def _stream(conn: Connection, principal: Principal, prep: Prepared) -> Iterator[bytes]:
    fmt, query, wl = prep.request.fmt, prep.query, active_matcher()
    default_tlp = Tlp.parse(get_settings().default_tlp)
    if fmt == "blocklist":
        return blocklist(active.values(conn, principal, query, wl))
    if fmt == "csv":
        pages = source.iter_pages(conn, principal, query, wl, with_reports="source_report" in prep.columns)
        return csv_rows(pages, prep.columns, source.org_names(conn), default_tlp)
    if fmt == "misp":
        return _misp_response(conn, principal, prep, default_tlp)
    if fmt == "stix":
        from accord.exports import stix

        return stix.bundle(conn, principal, prep.request.report, query)
    if fmt == "suricata":
        from accord.exports import suricata

        return suricata.rules(source.indicator_pages(conn, principal, query, wl))
    from accord.exports import rpz

    domains = replace(query, kinds=frozenset({"domain"}) & (query.kinds or {"domain"}))  # all a zone holds
    return rpz.zone(active.values(conn, principal, domains, wl), source.change_marker(conn))


# --------------------------------------------------------------------------------------------- MISP events


def _misp_response(conn: Connection, principal: Principal, prep: Prepared, default_tlp: Tlp) -> Iterator[bytes]:
    yield b'{"response":['
    first = True
    if prep.request.report is not None or prep.request.group == "report":
        events = report_events(conn, principal, prep, default_tlp)
    else:
        events = day_events(conn, principal, prep, default_tlp)
    for event in events:
        if not first:
            yield b","
        first = False
        yield from event
    yield b"]}\n"


def _identity_uuid(stix_id: str) -> str:
    return stix_id.partition("--")[2]


def report_events(
    conn: Connection, principal: Principal, prep: Prepared, default_tlp: Tlp
) -> Iterator[Iterator[bytes]]:
    """One event per readable report (or the one asked for): the report's readable objects' values."""
    wl = active_matcher()
    names, identities = source.org_names(conn), source.org_identities(conn)
    if prep.request.report is not None:
        rows = source.objects_by_id(conn, principal, [prep.request.report])
        if not rows or rows[0].type != "report":
            raise NotFound(f"no report {prep.request.report!r}")
        pages: Iterator[list[Any]] = iter([rows])
    else:
        pages = source.readable_rows(conn, principal, replace(prep.query, stix_types=("report",), kinds=None))
    for page in pages:
        for row in page:
            report = orjson.loads(row.raw)
            refs = [r for r in report.get("object_refs") or () if isinstance(r, str)]
            referenced = source.objects_by_id(conn, principal, refs)
            items = source.enrich(
                conn, principal, [r for r in referenced if r.type in source.VALUE_TYPES], prep.query, wl
            )
            tlp = default_tlp if row.tlp is None else Tlp(int(row.tlp))
            published = str(report.get("published") or report.get("created") or "")[:10]
            head = misp.EventHead(
                uuid=_identity_uuid(str(row.id)),
                info=str(report.get("name") or "Accord report"),
                date=published,
                orgc_name=names.get(int(row.owner_org_id), ""),
                orgc_uuid=_identity_uuid(identities.get(int(row.owner_org_id), "")),
                tlp=tlp,
                tags=tuple(misp.galaxy_tags(orjson.loads(r.raw) for r in referenced)),
            )
            yield misp.event_stream(head, items, default_tlp)


def day_key(collection: str | None, day: int) -> str:
    """The stable key of the event of one collection and day."""
    return f"{collection or '*'}/{day}"


def _day_head(conn: Connection, collection: str | None, day: int) -> misp.EventHead:
    host = accounts.host_org(conn)
    date = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
    return misp.EventHead(
        uuid=misp.event_uuid(day_key(collection, day)),
        info=f"Accord {collection or 'all collections'} {date}",
        date=date,
        orgc_name=str(host.name) if host is not None else "Accord",
        orgc_uuid=_identity_uuid(str(host.stix_id)) if host is not None else misp.event_uuid("host"),
    )


def day_events(conn: Connection, principal: Principal, prep: Prepared, default_tlp: Tlp) -> Iterator[Iterator[bytes]]:
    """One event per date_added day of the readable objects (of a collection): MISP's per-feed events."""
    wl = active_matcher()

    def items() -> Iterator[Item]:
        for page in source.iter_pages(conn, principal, prep.query, wl):
            yield from page

    for day, group in groupby(items(), key=lambda i: i.seq // DAY_US):
        yield misp.event_stream(_day_head(conn, prep.collection_alias, day), group, default_tlp, stamp_by_added=True)


def feed_manifest(conn: Connection, principal: Principal, prep: Prepared) -> dict[str, Any]:
    """A MISP feed's manifest.json: every day event with its timestamp."""
    out = {}
    for day, newest, _count in source.days(conn, principal, prep.query):
        head = _day_head(conn, prep.collection_alias, day)
        out[head.uuid] = {
            "info": head.info,
            "date": head.date,
            "timestamp": str(newest // 1_000_000),
            "analysis": "2",
            "threat_level_id": "4",
            "Orgc": {"name": head.orgc_name, "uuid": head.orgc_uuid},
            "Tag": [],
        }
    return out


def feed_event(conn: Connection, principal: Principal, prep: Prepared, event_uuid: str) -> Iterator[bytes]:
    """One event file of a MISP feed; NotFound when the feed holds no such event for the caller."""
    default_tlp = Tlp.parse(get_settings().default_tlp)
    for day, _newest, _count in source.days(conn, principal, prep.query):
        if misp.event_uuid(day_key(prep.collection_alias, day)) == event_uuid:
            query = replace(prep.query, since_us=day * DAY_US, until_us=(day + 1) * DAY_US)
            pages = source.iter_pages(conn, principal, query, active_matcher())
            items = (item for page in pages for item in page)
            head = _day_head(conn, prep.collection_alias, day)
            return misp.event_stream(head, items, default_tlp, stamp_by_added=True)
    raise NotFound(f"no event {event_uuid!r} in this feed")


def feed_hashes(conn: Connection, principal: Principal, prep: Prepared) -> Iterator[bytes]:
    """A MISP feed's hashes.csv: the MD5 of each attribute value with its event uuid."""
    for page in source.iter_pages(conn, principal, prep.query, active_matcher()):
        lines = []
        for item in page:
            event = misp.event_uuid(day_key(prep.collection_alias, item.seq // DAY_US))
            lines += [f"{hashlib.md5(v.value.encode()).hexdigest()},{event}" for v in item.values]  # noqa: S324
        if lines:
            yield ("\n".join(lines) + "\n").encode()
