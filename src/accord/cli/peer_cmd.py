"""`accord peer add|list|status|edit|pull|push|follow|remove` and `accord sync`: federation with other nodes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from accord.cli.common import out, read_secret, reading, span, unit_of_work
from accord.core.clock import now_us
from accord.core.db import get_engine
from accord.stix.timestamps import micros_to_timestamp

if TYPE_CHECKING:
    from accord.federation.sync import SyncResult

# Federation (the TAXII client, httpx) loads only when a peer command runs.

peer_app = typer.Typer(
    help="Peers: other Accord nodes or any TAXII 2.1 server, pulled from and pushed to.", no_args_is_help=True
)


def _token(token_env: str | None, token_file: Path | None) -> str | None:
    """The peer's token from an environment variable or a file (never from the command line: shells log it)."""
    return read_secret(token_env, token_file, "token")


@peer_app.command("add")
def peer_add(
    name: str = typer.Argument(..., help="a name for the peer"),
    url: str = typer.Option(..., "--url", help="its TAXII 2.1 API root (or discovery) URL"),
    org: str = typer.Option(..., "--org", help="the local organisation the link belongs to (R4)"),
    token_env: str | None = typer.Option(None, "--token-env", help="environment variable holding its token"),
    token_file: Path | None = typer.Option(None, "--token-file", help="file holding its token"),
    username: str | None = typer.Option(
        None, "--username", help="HTTP Basic user (e.g. medallion); the token is then its password"
    ),
    allow_private: bool = typer.Option(False, "--allow-private", help="allow private and loopback addresses"),
    public_key: str | None = typer.Option(None, "--public-key", help="its `accord node key`: it must sign"),
    remote_org: str | None = typer.Option(
        None, "--remote-org", help="the record of its organisation here (default: a new one named after the peer)"
    ),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds allowed per request"),
) -> None:
    """Register a peer; its token is stored encrypted with the node key and never shown again."""
    from accord.federation.service import PeerSpec, add_peer

    spec = PeerSpec(
        name=name,
        url=url,
        org=org,
        token=_token(token_env, token_file),
        username=username,
        allow_private=allow_private,
        public_key=public_key,
        remote_org=remote_org,
        timeout_seconds=timeout,
    )
    with unit_of_work() as conn:
        row = add_peer(conn, spec)
    out.print(f"peer {name!r} added (organisation {row.org_name}, its record here: {row.remote_org_name})")


@peer_app.command("edit")
def peer_edit(
    name: str = typer.Argument(..., help="the peer"),
    url: str | None = typer.Option(None, "--url", help="a new API root URL"),
    token_env: str | None = typer.Option(None, "--token-env", help="environment variable holding a new token"),
    token_file: Path | None = typer.Option(None, "--token-file", help="file holding a new token"),
    username: str | None = typer.Option(None, "--username", help="a new HTTP Basic user ('' for a bearer token)"),
    public_key: str | None = typer.Option(None, "--public-key", help="a new key ('' to stop requiring one)"),
    allow_private: bool | None = typer.Option(None, "--allow-private/--public-only", help="address policy"),
    enabled: bool | None = typer.Option(None, "--enable/--disable", help="run its subscriptions or not"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds allowed per request"),
) -> None:
    """Change a peer's settings."""
    from accord.federation.service import edit_peer

    with unit_of_work() as conn:
        edit_peer(
            conn,
            name,
            url=url,
            token=_token(token_env, token_file),
            username=username,
            public_key=public_key,
            allow_private=allow_private,
            enabled=enabled,
            timeout_seconds=timeout,
        )
    out.print(f"peer {name!r} changed")


@peer_app.command("remove")
def peer_remove(name: str = typer.Argument(..., help="the peer")) -> None:
    """Stop talking to a peer (what it brought stays, with its provenance)."""
    from accord.federation.service import remove_peer

    with unit_of_work() as conn:
        remove_peer(conn, name)
    out.print(f"peer {name!r} removed")


@peer_app.command("list")
def peer_list() -> None:
    """Peers: name, URL, organisation, its record here, signed or not, enabled (tab-separated)."""
    from accord.federation.service import list_peers

    with reading() as conn:
        rows = list_peers(conn)
    if not rows:
        out.print("no peers")
        return
    for r in rows:
        signed = "signed" if r.public_key else "unsigned"
        state = "enabled" if r.enabled else "disabled"
        sys.stdout.write(f"{r.name}\t{r.url}\t{r.org_name}\t{r.remote_org_name or '-'}\t{signed}\t{state}\n")


def _status_line(s: Any) -> str:
    where = (
        f"pull {s.remote_collection} -> {s.collection_alias}"
        if s.direction == "pull"
        else f"push {s.collection_alias} -> {s.remote_collection}"
    )
    flags = [f for f, on in (("live", s.live), ("disabled", not s.enabled)) if on]
    every = f" every {s.every_seconds}s" if s.every_seconds else ""
    counts = (
        f"received {s.received} stored {s.stored} duplicates {s.duplicates} refused {s.refused} removed {s.removed}"
        if s.direction == "pull"
        else f"sent {s.sent} refused {s.refused}"
    )
    health = (
        f"last ok {micros_to_timestamp(s.last_ok_us)[:19]}Z (lag {span(now_us() - s.last_ok_us)})"
        if s.last_ok_us
        else "never succeeded"
    )
    if s.failures:
        retry = f", retry in {span((s.next_run_us or 0) - now_us())}" if s.next_run_us else ""
        health += f", {s.failures} failure{'s' if s.failures > 1 else ''} ({s.last_error}){retry}"
    extra = f" [{', '.join(flags)}]" if flags else ""
    return f"  {where}{every}{extra}: {counts}; {health}"


@peer_app.command("status")
def peer_status(name: str | None = typer.Argument(None, help="one peer (default: all)")) -> None:
    """Each peer's subscriptions: last success, lag, failures and backoff, counts."""
    from accord.federation.service import get_peer_or_raise, list_peers, subscriptions

    with reading() as conn:
        peers = [get_peer_or_raise(conn, name)] if name else list_peers(conn)
        subs = subscriptions(conn, name)
    if not peers:
        out.print("no peers")
        return
    for p in peers:
        state = "" if p.enabled else " (disabled)"
        sys.stdout.write(f"{p.name}{state}: {p.url} for {p.org_name}\n")
        mine = [s for s in subs if s.peer_id == p.id]
        if not mine:
            sys.stdout.write("  no subscriptions (accord peer pull / accord peer push)\n")
        for s in mine:
            sys.stdout.write(_status_line(s) + "\n")


@peer_app.command("pull")
def peer_pull(
    name: str = typer.Argument(..., help="the peer"),
    remote: str = typer.Option(..., "--remote", help="the remote collection id"),
    into: str = typer.Option(..., "--into", help="the local collection alias"),
    live: bool = typer.Option(False, "--live", help="follow an Accord peer's live stream (falls back to polling)"),
    every: int | None = typer.Option(None, "--every", help="pull every SECONDS (default: ACCORD_SYNC_EVERY_SECONDS)"),
) -> None:
    """Subscribe to a remote collection: `accord sync` and the worker pull what is new into a local one."""
    from accord.federation.service import subscribe

    with unit_of_work() as conn:
        subscribe(conn, name, "pull", remote_collection=remote, collection=into, live=live, every_seconds=every)
    out.print(f"peer {name!r}: pulling {remote} into {into!r}")


@peer_app.command("push")
def peer_push(
    name: str = typer.Argument(..., help="the peer"),
    source: str = typer.Option(..., "--from", help="the local collection alias"),
    remote: str = typer.Option(..., "--remote", help="the remote collection id"),
    every: int | None = typer.Option(None, "--every", help="push every SECONDS (default: ACCORD_SYNC_EVERY_SECONDS)"),
) -> None:
    """Subscribe the peer to a local collection: what its organisation may read (F1) is pushed to it."""
    from accord.federation.service import subscribe

    with unit_of_work() as conn:
        subscribe(conn, name, "push", remote_collection=remote, collection=source, every_seconds=every)
    out.print(f"peer {name!r}: pushing {source!r} to {remote}")


@peer_app.command("follow")
def peer_follow(name: str = typer.Argument(..., help="the peer")) -> None:
    """Pull the collections of the cases, requests and requirements the peer shares with us (what `accord sync`
    does first unless ACCORD_JOINT_FOLLOW=false)."""
    from accord.federation.follow import follow_peer

    followed = follow_peer(get_engine(), name, actor="cli")
    for alias in followed:
        out.print(f"peer {name!r}: following {alias!r}")
    if not followed:
        out.print(f"peer {name!r}: no joint collections to follow")


def result_line(r: SyncResult) -> str:
    """One line per subscription run."""
    where = f"{r.peer} {r.direction} {r.remote_collection if r.direction == 'pull' else r.collection}"
    if r.status == "error":
        return f"{where}: {r.error}"
    if r.direction == "pull":
        removed = f", removed {r.removed}" if r.removed else ""
        return f"{where}: {r.stored} new, {r.duplicates} already stored, {r.refused} refused{removed}"
    return f"{where}: sent {r.sent}, refused {r.refused}"


def sync_cmd(
    names: list[str] | None = typer.Argument(None, help="peers to sync (default: every enabled peer)"),
    reconcile: bool = typer.Option(
        False, "--reconcile", help="also remove what the remote collections no longer hold (compares manifests)"
    ),
) -> None:
    """Run every subscription (of the named peers) once; non-zero exit with one line per failure."""
    from accord.worker.sync import run_now

    results = run_now(get_engine(), names or None, reconcile_removed=reconcile)
    if not results:
        sys.stdout.write("no subscriptions to run\n")
    for r in results:
        if r.status == "ok":
            sys.stdout.write(result_line(r) + "\n")
            for reason in r.reasons[:5]:
                sys.stdout.write(f"  refused: {reason}\n")
    failed = [r for r in results if r.status == "error"]
    for r in failed:
        sys.stderr.write(f"accord: error: {result_line(r)}\n")
    if failed:
        raise SystemExit(1)
