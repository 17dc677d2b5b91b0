"""`accord import` and `accord export`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from accord.accounts import service as accounts
from accord.cli.common import err, fail, reading, unit_of_work
from accord.core.db import widen_cache
from accord.core.errors import AccordError, Forbidden, NotFound
from accord.core.settings import get_settings
from accord.correlate import flags
from accord.correlate.warninglists import active_matcher
from accord.sharing.policy import Principal, Role
from accord.stix.markings import Tlp
from accord.store import parallel
from accord.store import repository as store_repo
from accord.store.export import iter_raw, write_bundle
from accord.store.service import IngestReport, WriteContext, ingest, ingest_batches
from accord.store.sources import Source, expand, read_objects


def _operator(conn: Any) -> Principal:
    host = accounts.host_org(conn)
    if host is None:
        raise NotFound("the node is not initialised: run `accord init` first")
    return Principal(org_id=host.id, role=Role.ADMIN)


def _counted(objects: Iterator[Any], progress: Progress | None, task: Any) -> Iterator[Any]:
    if progress is None:
        yield from objects
        return
    n = 0
    for obj in objects:
        yield obj
        n += 1
        if n % 1000 == 0:
            progress.update(task, completed=n)
    progress.update(task, completed=n)


def _counted_lists(lists: Iterator[list[Any]], progress: Progress | None, task: Any) -> Iterator[list[Any]]:
    n = 0
    for items in lists:
        yield items
        n += len(items)
        if progress is not None:
            progress.update(task, completed=n)


def import_cmd(
    paths: list[str] = typer.Argument(..., help="bundle files (.json, .json.gz), directories, or - for stdin"),
    collection: str | None = typer.Option(None, "--collection", help="collection alias to publish into"),
    as_user: str | None = typer.Option(None, "--as", help="import as this user (content owned by their org)"),
    csv_columns: str | None = typer.Option(
        None, "--csv-columns", help="a CSV of values: its column mapping, e.g. 'value=2,type=1,comment=3' (1-based)"
    ),
    delimiter: str = typer.Option(",", "--delimiter", help="CSV delimiter"),
    skip_header: bool = typer.Option(False, "--skip-header", help="the CSV's first row is a header"),
    item_type: str | None = typer.Option(None, "--type", help="CSV value type (default: the type column, or detect)"),
    tlp: str | None = typer.Option(None, "--tlp", help="MISP / CSV: TLP of unmarked content"),
) -> None:
    """Import STIX 2.1 bundles, MISP event JSON files or CSV files of values; each file is stored atomically."""
    sources = expand(paths)
    try:
        level = Tlp.parse(tlp) if tlp else None
    except ValueError as exc:
        fail(str(exc))
    reading_opts = _ValueFiles(csv_columns, delimiter, skip_header, item_type, level)
    total = IngestReport()
    failed: list[str] = []
    show = err.is_terminal
    with unit_of_work() as conn:
        widen_cache(conn, get_settings().import_cache_mb)
        principal = accounts.principal_for_email(conn, as_user) if as_user else _operator(conn)
        collection_id = None
        if collection:
            row = accounts.get_collection_by_alias_or_raise(conn, collection)
            collection_id = row.id
            if not principal.is_admin and collection_id not in principal.writable_collections:
                raise Forbidden(f"{principal.email or 'this user'} may not write into collection {collection!r}")
        if not principal.can_write:
            raise Forbidden(f"{principal.email} has role {principal.role.value}, which cannot import")
        ctx = WriteContext(writer_org_id=principal.org_id, collection_id=collection_id, reader=principal)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
            transient=True,
        ) as progress:
            for source in sources:
                task = progress.add_task(Path(source.name).name, total=None)
                total.merge(_import_one(conn, source, ctx, progress if show else None, task, failed, reading_opts))
        actor = principal.email or "cli"
        from accord.audit.service import record

        record(
            conn,
            actor,
            "import",
            collection or "",
            stored=total.stored,
            duplicates=total.duplicates,
            refused=total.refused,
            files=len(sources),
        )
    if total.stored >= store_repo.ANALYZE_AFTER:
        with unit_of_work() as conn:
            store_repo.refresh_statistics(conn)
    lines = [f"stored {total.stored}, duplicates {total.duplicates}, refused {total.refused}"]
    lines += [f"  refused {reason}" for reason in total.reasons[:10]]
    if total.listed:
        lines.append(f"warninglisted: {total.listed} stored objects hold values on warninglists (never correlated)")
        lines += [f"  {example}" for example in total.listed_examples[:10]]
    sys.stdout.write("\n".join(lines) + "\n")
    for line in failed:
        sys.stderr.write(f"accord: error: {line}\n")
    if failed or total.stored + total.duplicates == 0:
        if not failed:
            sys.stderr.write("accord: error: no valid STIX objects found in the input\n")
        raise SystemExit(1)


@dataclass(frozen=True, slots=True)
class _ValueFiles:
    """How to read inputs that are not STIX bundles: CSV files of values, MISP event JSON."""

    csv_columns: str | None
    delimiter: str
    skip_header: bool
    item_type: str | None
    tlp: Tlp | None


def _converted(source: Source, opts: _ValueFiles) -> list[Any] | None:
    """The STIX objects of a CSV or MISP event file, or None for a STIX bundle (read by the store)."""
    from accord.exports import imports

    if source.path is None:
        return None
    if source.path.name.endswith(".csv") or (opts.csv_columns and not source.path.name.endswith(".json")):
        objects, skipped = imports.csv_objects(
            source.path.read_bytes(),
            source.name,
            columns=opts.csv_columns,
            delimiter=opts.delimiter,
            skip_header=opts.skip_header,
            item_type=opts.item_type,
            tlp=opts.tlp,
        )
        for reason in skipped:
            sys.stderr.write(f"{source.name}: skipped {reason}\n")
        return objects
    events = imports.sniff_misp(source.path)
    return None if events is None else imports.misp_objects(events, source.name, opts.tlp)


def _import_one(
    conn: Any,
    source: Source,
    ctx: WriteContext,
    progress: Progress | None,
    task: Any,
    failed: list[str],
    opts: _ValueFiles,
) -> IngestReport:
    savepoint = conn.begin_nested()
    try:
        converted = _converted(source, opts)
        if converted is not None:
            report = ingest(conn, _counted(iter(converted), progress, task), ctx)
        elif parallel.worth_it(source):
            settings = get_settings()
            spans = parallel.prepared_spans(
                source,
                batch=settings.import_batch_size,
                max_bytes=settings.max_object_bytes,
                index=settings.value_index,
            )
            report = ingest_batches(conn, _counted_lists(spans, progress, task), ctx)
        else:
            report = ingest(conn, _counted(read_objects(source), progress, task), ctx)
    except AccordError as exc:
        savepoint.rollback()
        failed.append(f"{exc.message}; nothing from this input was stored")
        return IngestReport()
    savepoint.commit()
    return report


def export_cmd(
    collection: str | None = typer.Option(None, "--collection", help="collection alias (default: everything)"),
    fmt: str = typer.Option("stix", "--format", help="stix | misp | csv | blocklist | suricata | rpz"),
    output: str = typer.Option("-", "-o", "--output", help="output file, - for stdout"),
    all_versions: bool = typer.Option(False, "--all-versions", help="stix: every version, not only the latest"),
    as_user: str | None = typer.Option(None, "--as", help="export what this user may read"),
    warninglists: str | None = typer.Option(
        None,
        "--warninglists",
        help="values on warninglists: omit (default) or mark; stix also report (the stix default: count them)",
    ),
    types: str | None = typer.Option(None, "--type", help="value kinds, comma-separated (ip, cidr, domain, ...)"),
    since: str | None = typer.Option(None, "--since", help="objects added since (STIX timestamp or YYYY-MM-DD)"),
    min_score: float | None = typer.Option(None, "--min-score", help="only values scoring at least this (0-100)"),
    columns: str | None = typer.Option(None, "--columns", help="csv: columns, comma-separated"),
    report: str | None = typer.Option(None, "--report", help="stix, misp: one report and what it references"),
    group: str = typer.Option("report", "--group", help="misp: one event per report, or per day"),
) -> None:
    """Export what a user may read: STIX 2.1, MISP events, CSV, blocklists, Suricata rules or an RPZ zone."""
    if fmt == "stix" and report is None:
        _export_stix(collection, output, all_versions, as_user, warninglists or "report")
        return
    from accord.exports import service as exports

    req = exports.ExportRequest(
        fmt, collection, types, since, min_score, warninglists or "omit", columns, report, group
    )
    with reading() as conn:
        principal = accounts.principal_for_email(conn, as_user) if as_user else _operator(conn)
        prep = exports.prepare(conn, principal, req)
        count = _write(exports.stream(conn, principal, prep), output)
    with unit_of_work() as conn:
        from accord.audit.service import record

        record(conn, as_user or "cli", "export", collection or "", format=fmt, report=report or "", bytes=count)
    err.print(f"exported {fmt} ({count} bytes)")


def _write(chunks: Iterator[bytes], output: str) -> int:
    count = 0
    if output == "-":
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
            count += len(chunk)
        sys.stdout.flush()
        return count
    target = Path(output)
    tmp = target.with_name(target.name + ".part")
    with tmp.open("wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            count += len(chunk)
    tmp.replace(target)
    return count


def _export_stix(
    collection: str | None, output: str, all_versions: bool, as_user: str | None, warninglists: str
) -> None:
    """Export readable objects as a STIX 2.1 bundle."""
    if warninglists not in flags.MODES:
        fail(f"unknown --warninglists {warninglists!r}; choose one of {', '.join(flags.MODES)}")
    tally = flags.FlagTally()
    with reading() as conn:
        principal = accounts.principal_for_email(conn, as_user) if as_user else _operator(conn)
        collection_id = accounts.get_collection_by_alias_or_raise(conn, collection).id if collection else None
        raw = iter_raw(conn, principal, collection_id=collection_id, all_versions=all_versions)
        chunks = flags.flag_export(raw, warninglists, active_matcher(), tally)
        if output == "-":
            count = write_bundle(chunks, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            target = Path(output)
            tmp = target.with_name(target.name + ".part")
            with tmp.open("wb") as fh:
                count = write_bundle(chunks, fh)
            tmp.replace(target)
    with unit_of_work() as conn:
        from accord.audit.service import record

        record(conn, as_user or "cli", "export", collection or "", objects=count, all_versions=all_versions)
    err.print(f"exported {count} objects")
    if tally.flagged:
        done = {"report": "written unchanged", "mark": f"marked with {flags.PROPERTY}", "omit": "left out"}
        err.print(f"warninglisted: {tally.flagged} objects hold values on warninglists ({done[warninglists]})")
        for example in tally.examples:
            err.print(f"  {example}", markup=False, highlight=False)
