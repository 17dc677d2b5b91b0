"""`accord lookup VALUE...`: what the node (or a user) knows about values."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from accord.accounts import service as accounts
from accord.cli.common import out, reading
from accord.core.errors import NotFound
from accord.correlate.lookup import lookup
from accord.sharing.policy import Principal, Role


def _operator(conn: Any) -> Principal:
    host = accounts.host_org(conn)
    if host is None:
        raise NotFound("the node is not initialised: run `accord init` first")
    return Principal(org_id=host.id, role=Role.ADMIN)


def _table(results: list[dict[str, Any]]) -> Table:
    table = Table("input", "kind", "value", "warninglists", "object", "match", "owner", "last seen", "score")
    for result in results:
        if not result["values"]:
            table.add_row(result["input"], "-", "(not a recognised value)", "", "", "", "", "", "")
        for item in result["values"]:
            lists = ", ".join(item["warninglists"])
            if item.get("widespread"):
                count = f"{item['count']}{'+' if item.get('count_capped') else ''}"  # capped: at least that many
                table.add_row(result["input"], item["kind"], item["value"], lists, f"widespread: {count}")
                continue
            matches = item["matches"] or [None]
            for m in matches:
                if m is None:
                    table.add_row(result["input"], item["kind"], item["value"], lists, "(no match)")
                    continue
                score = "" if m["score"] is None else f"{m['score']:.0f}" + (" expired" if m["expired"] else "")
                name = f"{m['type']}: {m['name'] or m['id']}"
                others = [o for o in m["held_by"] if o != m["owner"]]  # copies of the same id held by others
                owner = m["owner"] + (f" (also held by {', '.join(others)})" if others else "")
                table.add_row(
                    result["input"], item["kind"], item["value"], lists, name, m["match"], owner,
                    m["last_seen"] or "", score,
                )  # fmt: skip
    return table


def lookup_cmd(
    values: list[str] = typer.Argument(..., help="values to look up (raw or defanged)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    as_user: str | None = typer.Option(None, "--as", help="look up as this user (what they may read)"),
) -> None:
    """Look up values: normalised forms, warninglists, and the readable objects that hold them."""
    with reading() as conn:
        principal = accounts.principal_for_email(conn, as_user) if as_user else _operator(conn)
        results = lookup(conn, principal, values)
    if json_out:
        sys.stdout.write(orjson.dumps({"results": results}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        # Piped output keeps whole rows (no wrapping at 80 columns) so it can be grepped.
        console = out if out.is_terminal else Console(file=sys.stdout, width=250)
        console.print(_table(results))
