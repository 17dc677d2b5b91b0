"""`accord feed add|edit|remove|pull|list|show|status`: external intelligence feeds (registered as `accord feed`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from accord.cli.common import fail, out, read_secret, reading, span, unit_of_work, writing_engine
from accord.core.clock import now_us
from accord.stix.timestamps import micros_to_timestamp

if TYPE_CHECKING:
    from accord.feeds.pull import PullResult

# Feed parsing and HTTP clients load only when a feed command runs.

feed_app = typer.Typer(help="External feeds: MISP, CSV, text lists, STIX bundles, TAXII 2.1.", no_args_is_help=True)


@feed_app.command("add")
def feed_add(
    name: str = typer.Argument(..., help="a name for the feed"),
    url: str = typer.Option(..., "--url", help="http(s) URL (MISP: the feed folder or its manifest.json)"),
    fmt: str = typer.Option(..., "--format", help="misp | csv | text | stix | taxii"),
    collection: str | None = typer.Option(None, "--collection", help="collection alias to publish into"),
    org: str | None = typer.Option(
        None, "--org", help="the organisation the feed belongs to (default: the host organisation)"
    ),
    item_type: str | None = typer.Option(None, "--type", help="text/csv value type (default: detect per line)"),
    csv_columns: str | None = typer.Option(None, "--csv-columns", help="e.g. 'value=2,type=1,comment=3' (1-based)"),
    delimiter: str = typer.Option(",", "--delimiter", help="CSV delimiter"),
    skip_header: bool = typer.Option(False, "--skip-header", help="the CSV's first row is a header"),
    tlp: str | None = typer.Option(None, "--tlp", help="clear | green | amber | amber+strict | red"),
    every: int | None = typer.Option(None, "--every", help="pull every MINUTES (by the worker)"),
    taxii_collection: str | None = typer.Option(None, "--taxii-collection", help="remote TAXII collection id"),
    username: str | None = typer.Option(None, "--username", help="HTTP Basic user for the feed"),
    password: str | None = typer.Option(
        None, "--password", help="HTTP Basic password (kept in shell history: prefer --password-env/--password-file)"
    ),
    password_env: str | None = typer.Option(None, "--password-env", help="environment variable holding the password"),
    password_file: Path | None = typer.Option(None, "--password-file", help="file holding the password"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds per request (default: 30, TAXII 120)"),
    max_mb: int = typer.Option(100, "--max-mb", help="size limit per response in MB"),
) -> None:
    """Configure a feed of an organisation: it reads what the feed brings at every TLP, others CLEAR and GREEN."""
    from accord.feeds.service import FeedSpec, add_feed

    from_elsewhere = read_secret(password_env, password_file, "password")
    if password is not None and from_elsewhere is not None:
        fail("give one of --password, --password-env and --password-file")
    spec = FeedSpec(
        name=name,
        url=url,
        format=fmt.lower(),
        collection=collection,
        org=org,
        item_type=item_type,
        csv_columns=csv_columns,
        delimiter=_delimiter(delimiter),
        skip_header=skip_header,
        tlp=tlp,
        every_minutes=every,
        taxii_collection=taxii_collection,
        username=username,
        password=password if password is not None else from_elsewhere,
        timeout_seconds=timeout,
        max_bytes=max_mb * 1_048_576,
    )
    with unit_of_work() as conn:
        add_feed(conn, spec)
    out.print(f"feed {name!r} added")


def _delimiter(value: str) -> str:
    return "\t" if value in ("\\t", "tab") else value


@feed_app.command("edit")
def feed_edit(
    name: str = typer.Argument(..., help="the feed"),
    url: str | None = typer.Option(None, "--url", help="a new URL (its pull state starts afresh)"),
    fmt: str | None = typer.Option(None, "--format", help="misp | csv | text | stix | taxii"),
    collection: str | None = typer.Option(None, "--collection", help="collection alias to publish into ('' for none)"),
    item_type: str | None = typer.Option(None, "--type", help="text/csv value type ('' to detect per line)"),
    csv_columns: str | None = typer.Option(None, "--csv-columns", help="e.g. 'value=2,type=1' ('' for the default)"),
    delimiter: str | None = typer.Option(None, "--delimiter", help="CSV delimiter"),
    skip_header: bool | None = typer.Option(None, "--skip-header/--no-skip-header", help="the CSV has a header row"),
    tlp: str | None = typer.Option(None, "--tlp", help="default TLP ('' for none)"),
    every: int | None = typer.Option(None, "--every", help="pull every MINUTES (0: only on demand)"),
    taxii_collection: str | None = typer.Option(None, "--taxii-collection", help="remote TAXII collection id"),
    username: str | None = typer.Option(None, "--username", help="HTTP Basic user ('' for none, with its password)"),
    password_env: str | None = typer.Option(None, "--password-env", help="environment variable holding a password"),
    password_file: Path | None = typer.Option(None, "--password-file", help="file holding a password"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds per request"),
    max_mb: int | None = typer.Option(None, "--max-mb", help="size limit per response in MB"),
    enabled: bool | None = typer.Option(None, "--enable/--disable", help="pull it on schedule or not"),
) -> None:
    """Change a feed's settings; a new URL or format starts its pull state afresh, --enable makes it due at once."""
    from accord.feeds.service import edit_feed

    given: dict[str, Any] = {
        "url": url,
        "format": fmt,
        "collection": collection,
        "item_type": item_type,
        "csv_columns": csv_columns,
        "delimiter": _delimiter(delimiter) if delimiter is not None else None,
        "skip_header": skip_header,
        "tlp": tlp,
        "every_minutes": every,
        "taxii_collection": taxii_collection,
        "username": username,
        "password": read_secret(password_env, password_file, "password"),
        "timeout_seconds": timeout,
        "max_bytes": max_mb * 1_048_576 if max_mb is not None else None,
        "enabled": enabled,
    }
    with unit_of_work() as conn:
        edit_feed(conn, name, **{k: v for k, v in given.items() if v is not None})
    out.print(f"feed {name!r} changed")


@feed_app.command("remove")
def feed_remove(name: str = typer.Argument(..., help="the feed")) -> None:
    """Remove a feed and its pull history; what it brought stays, with its provenance."""
    from accord.feeds.service import remove_feed

    with unit_of_work() as conn:
        remove_feed(conn, name)
    out.print(f"feed {name!r} removed")


def _line(r: PullResult) -> str:
    """One line for a pull that worked: what was new, already stored and refused (with the first reason)."""
    if r.status == "not-modified":
        return f"{r.feed}: not modified"
    line = f"{r.feed}: {r.stored} new, {r.duplicates} already stored, {r.refused} refused"
    if r.skipped:
        line += f", {r.skipped} line(s) skipped"
    if r.reasons:
        line += f" (first: {' '.join(r.reasons[0].split())})"
    return line


@feed_app.command("pull")
def feed_pull(
    name: str | None = typer.Argument(None, help="the feed to pull (default: every due feed)"),
    all_feeds: bool = typer.Option(False, "--all", help="pull every enabled feed, due or not"),
) -> None:
    """Pull a feed now (or every due feed); only new content is stored."""
    from accord.feeds.pull import pull_feeds

    results = pull_feeds(writing_engine(), [name] if name else None, due_only=not all_feeds)
    if not results:
        sys.stdout.write("no feed is due\n")
    for r in results:  # each pull reported once: a success on stdout, a failure on stderr
        if r.status == "error":
            sys.stderr.write(f"accord: error: feed {r.feed}: {r.error}\n")
        else:
            sys.stdout.write(_line(r) + "\n")
    if any(r.status == "error" for r in results):
        raise SystemExit(1)


@feed_app.command("list")
def feed_list() -> None:
    """Feeds with their last pull and, last, their organisation (tab-separated)."""
    with reading() as conn:
        from accord.feeds.service import list_feeds

        rows = list_feeds(conn)
    if not rows:
        out.print("no feeds")
        return
    for r in rows:
        when = micros_to_timestamp(r.pulled_us)[:19] + "Z" if r.pulled_us else "never"
        counts = "" if r.stored is None else f" stored={r.stored} duplicates={r.duplicates} refused={r.refused}"
        every = f" every={r.every_minutes}m" if r.every_minutes else ""
        status = r.last_status or "-"
        error = f" ({r.last_error})" if r.last_error else ""
        line = f"{r.name}\t{r.format}\t{r.url}\t{r.collection_alias or '-'}\t{when}\t{status}{counts}{every}{error}"
        sys.stdout.write(f"{line}\t{r.org_name}\n")  # a new column goes last: scripts read the others by position


@feed_app.command("show")
def feed_show(name: str = typer.Argument(..., help="the feed")) -> None:
    """One feed: its settings, organisation, link and sources, and its last pull."""
    with reading() as conn:
        from accord.feeds.service import describe_feed

        r, sources = describe_feed(conn, name)
    when = micros_to_timestamp(r.pulled_us)[:19] + "Z" if r.pulled_us else "never"
    fields = [
        ("name", r.name),
        ("format", r.format),
        ("url", r.url),
        ("collection", r.collection_alias or "-"),
        ("organisation", r.org_name),
        ("link", r.link_name),
        ("source", r.source_name),
        ("speaks for", ", ".join(sources)),
        ("default tlp", r.tlp or "-"),
        ("every", f"{r.every_minutes}m" if r.every_minutes else "-"),
        ("enabled", "yes" if r.enabled else "no"),
        ("last pull", when),
        ("last status", r.last_status or "-"),
    ]
    if r.stored is not None:
        fields.append(("last counts", f"stored={r.stored} duplicates={r.duplicates} refused={r.refused}"))
    if r.last_error:
        fields.append(("last error", r.last_error))
    for key, value in fields:
        sys.stdout.write(f"{key}: {value}\n")


def _due(r: Any, now: int) -> str:
    from accord.feeds.service import next_due_us

    if not r.enabled:
        return "disabled"
    due = next_due_us(r, now)
    if due is None:
        return "on demand only"
    return "now" if due <= now else f"in {span(due - now)}"


@feed_app.command("status")
def feed_status(name: str | None = typer.Argument(None, help="one feed (default: all)")) -> None:
    """Each feed's last pull, its status and error, counts, and when it is next due."""
    from accord.feeds.service import describe_feed, list_feeds

    with reading() as conn:
        rows = [describe_feed(conn, name)[0]] if name else list_feeds(conn)
    if not rows:
        out.print("no feeds")
        return
    now = now_us()
    for r in rows:
        state = "" if r.enabled else " (disabled)"
        sys.stdout.write(f"{r.name}{state}: {r.format} {r.url} for {r.org_name} into {r.collection_alias or '-'}\n")
        if r.pulled_us:
            took = f" in {span(r.finished_us - r.pulled_us)}" if r.finished_us else ""
            last = f"last pull {span(now - r.pulled_us)} ago{took}: {r.last_status or '-'}"
            if r.stored is not None:
                last += f", stored {r.stored} duplicates {r.duplicates} refused {r.refused}"
            sys.stdout.write(f"  {last}\n")
        else:
            sys.stdout.write("  never pulled\n")
        if r.last_error:
            sys.stdout.write(f"  last error: {r.last_error}\n")
        sys.stdout.write(f"  {r.pulls} pulls, {r.stored_total} stored in all; next due: {_due(r, now)}\n")
