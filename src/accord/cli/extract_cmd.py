"""`accord extract PATH|URL|-`: indicators found in a text, HTML or PDF report, as a table, JSON or STIX."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
import typer

from accord.cli import common
from accord.core.errors import AccordError, BadRequest, PayloadTooLarge
from accord.core.perf import gc_paused
from accord.core.settings import get_settings

if TYPE_CHECKING:
    from rich.table import Table

    from accord.extract.service import Extraction

# The extraction engine (galaxies, public suffixes, HTTP clients) loads only when `accord extract` runs:
# every other command starts faster without it.


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    STIX = "stix"


def _read_limited(stream: IO[bytes], limit: int, name: str) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{name} is larger than {limit} bytes (ACCORD_EXTRACT_MAX_BYTES)")
    return data


def _load(source: str, allow_private: bool) -> tuple[bytes, str | None, str | None]:
    """(data, content type, file name) of a path, an http(s) URL or `-` (stdin)."""
    limit = get_settings().extract_max_bytes
    if source == "-":
        return _read_limited(sys.stdin.buffer, limit, "standard input"), None, None
    if source.lower().startswith(("http://", "https://")):
        from accord.extract.service import fetch_document

        data, content_type = fetch_document(source, allow_private=allow_private)
        return data, content_type, source.split("?", 1)[0].rsplit("/", 1)[-1] or None
    path = Path(source)
    try:
        with path.open("rb") as fh:
            return _read_limited(fh, limit, source), None, path.name
    except IsADirectoryError:
        raise BadRequest(f"{source} is a directory, not a document") from None
    except OSError as exc:
        raise AccordError(f"cannot read {source}: {exc.strerror or exc}") from None


def _table(extraction: Extraction) -> Table:
    # rich's table and markup load only for the table format: json and stix start without them.
    from rich.markup import escape
    from rich.table import Table

    from accord.extract.service import finding_dict

    table = Table("type", "value", "warninglist", "context", title=escape(extraction.title))
    for finding in extraction.findings:
        item = finding_dict(finding)
        listed = ", ".join(item["warninglists"])
        # Report text is not markup: a defanged "[/]" or "[.]" in a context would be read as a rich tag.
        table.add_row(item["type"], escape(item["value"]), escape(listed) or "-", escape(item["context"]))
    return table


def _json(extraction: Extraction) -> bytes:
    from accord.extract.service import finding_dicts

    body: dict[str, Any] = {"title": extraction.title, "findings": finding_dicts(extraction.findings)}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def extract_cmd(
    source: str = typer.Argument(..., metavar="PATH|URL|-", help="a text, HTML or PDF file, an http(s) URL, or -"),
    fmt: Format = typer.Option(Format.TABLE, "--format", "-f", help="table, json (findings) or stix (a bundle)"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write to this file instead of stdout"),
    title: str | None = typer.Option(None, "--title", help="report name (default: the document's title)"),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="let a URL be fetched from a private, loopback or link-local address"
    ),
    no_warninglists: bool = typer.Option(False, "--no-warninglists", help="do not consult the warninglists"),
    include_warninglisted: bool = typer.Option(
        False, "--include-warninglisted", help="make indicators of warninglisted values too (stix)"
    ),
) -> None:
    """Find indicators (defanged forms understood) and named threats in a report."""
    # A dense report's findings, flags and output rows are tens of thousands of acyclic objects: with the cyclic
    # collector on, its passes over them cost more than the warninglist look-ups (bench_extract.py, dense text).
    with gc_paused():
        _extract(source, fmt, output, title, allow_private, no_warninglists, include_warninglisted)


def _extract(
    source: str,
    fmt: Format,
    output: Path | None,
    title: str | None,
    allow_private: bool,
    no_warninglists: bool,
    include_warninglisted: bool,
) -> None:
    data, content_type, filename = _load(source, allow_private)
    from accord.extract import galaxy
    from accord.extract.service import extract_document

    galaxy.one_text_process()  # the process ends after this report: no automaton built to be kept for another

    extraction = extract_document(
        data,
        content_type=content_type,
        filename=filename,
        title=title,
        warninglists=not no_warninglists,
        include_warninglisted=include_warninglisted,
    )
    if fmt is Format.TABLE:
        from rich.console import Console

        if output is None:
            # Piped output keeps whole rows (no wrapping at 80 columns) so it can be grepped.
            console = common.out if common.out.is_terminal else Console(file=sys.stdout, width=250)
            console.print(_table(extraction))
            return
        with _open_output(output) as fh:
            Console(file=fh, width=250, no_color=True).print(_table(extraction))
        common.out.print(f"{len(extraction.findings)} findings written to {output}")
        return
    json = fmt is Format.JSON
    payload = _json(extraction) if json else orjson.dumps(extraction.bundle, option=orjson.OPT_INDENT_2)
    # The UTF-8 bytes as orjson wrote them, and the final line break apart: no decoding and re-encoding, nor a
    # copy, of a large payload (a dense report's JSON is five times its size).
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.write(b"\n")
        return
    with _open_output(output, binary=True) as fh:
        fh.write(payload)
        if json:  # a file of findings ends with a line break, as it always has; a STIX bundle file does not
            fh.write(b"\n")
    common.out.print(f"{len(extraction.findings)} findings written to {output}")


def _open_output(path: Path, *, binary: bool = False) -> Any:
    try:
        return path.open("wb") if binary else path.open("w", encoding="utf-8")
    except OSError as exc:
        raise AccordError(f"cannot write {path}: {exc.strerror or exc}") from None
