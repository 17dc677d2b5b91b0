"""`accord webhook add|list|remove|deliveries`: outgoing webhooks of organisations' notifications."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from accord.cli.common import out, read_secret, reading, unit_of_work

webhook_app = typer.Typer(help="Outgoing webhooks: notifications POSTed as signed JSON.", no_args_is_help=True)


@webhook_app.command("add")
def webhook_add(
    url: str = typer.Argument(..., help="http(s) URL that receives each notification"),
    org: str = typer.Option(..., "--org", help="the organisation whose users' notifications go there"),
    secret_env: str | None = typer.Option(None, "--secret-env", help="environment variable holding the secret"),
    secret_file: Path | None = typer.Option(None, "--secret-file", help="file holding the secret"),
) -> None:
    """Register a URL; prints its id and the signing secret (generated unless given; shown only now)."""
    from accord.joint.webhooks import add_webhook

    secret = read_secret(secret_env, secret_file, "secret")
    with unit_of_work() as conn:
        got = add_webhook(conn, org, url, secret=secret)
    sys.stdout.write(f"{got['id']}\t{got['secret']}\n")


@webhook_app.command("list")
def webhook_list(org: str | None = typer.Option(None, "--org", help="only this organisation's")) -> None:
    """Webhooks (tab-separated): id, organisation, URL, deliveries by status, last error."""
    from accord.joint.webhooks import list_webhooks

    with reading() as conn:
        rows = list_webhooks(conn, org)
    if not rows:
        out.print("no webhooks")
        return
    for r in rows:
        counts = " ".join(f"{k}={v}" for k, v in r["deliveries"].items())
        sys.stdout.write(f"{r['id']}\t{r['org']}\t{r['url']}\t{counts}\t{r['last_error'] or '-'}\n")


@webhook_app.command("deliveries")
def webhook_deliveries(webhook_id: str = typer.Argument(..., help="the webhook id")) -> None:
    """A webhook's newest deliveries (tab-separated): id, kind, status, attempts, last HTTP status, error."""
    from accord.joint.webhooks import deliveries

    with reading() as conn:
        rows = deliveries(conn, webhook_id)
    for r in rows:
        line = f"{r['id']}\t{r['kind']}\t{r['status']}\t{r['attempts']}\t{r['last_status'] or '-'}"
        sys.stdout.write(f"{line}\t{r['last_error'] or '-'}\n")


@webhook_app.command("remove")
def webhook_remove(webhook_id: str = typer.Argument(..., help="the webhook id")) -> None:
    """Stop sending to a webhook."""
    from accord.joint.webhooks import remove_webhook

    with unit_of_work() as conn:
        remove_webhook(conn, webhook_id)
    out.print(f"webhook {webhook_id} removed")
