"""`accord org|user|token|group|collection`: node administration."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from accord.accounts import service as accounts
from accord.cli.common import fail, out, reading, unit_of_work
from accord.stix.ids import ID_RE
from accord.stix.timestamps import micros_to_timestamp

org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
group_app = typer.Typer(help="Sharing groups.", no_args_is_help=True)
collection_app = typer.Typer(help="Collections (TAXII collections).", no_args_is_help=True)


@org_app.command("create")
def org_create(
    name: str,
    remote_identity: str = typer.Option(
        "",
        "--remote-identity",
        help="Make the record of a partner's organisation on another node, with the identity id it has there "
        "(`accord org list` on that node): what it makes arrives owned by this record, and it may take part in "
        "cases and read collections like any organisation.",
    ),
) -> None:
    """Create an organisation (with its STIX identity), or the record of a partner's one (--remote-identity)."""
    if remote_identity and (not remote_identity.startswith("identity--") or ID_RE.match(remote_identity) is None):
        fail(f"--remote-identity {remote_identity!r} is not an identity id (identity--<uuid>)")
    with unit_of_work() as conn:
        if remote_identity:
            if accounts.get_org_by_identity(conn, remote_identity) is not None:
                fail(f"an organisation with identity {remote_identity} already exists")
            row = accounts.create_org(conn, name, is_remote=True, stix_id=remote_identity)
        else:
            row = accounts.create_org(conn, name)
    kind = "record of remote organisation" if remote_identity else "organisation"
    out.print(f"created {kind} {row.name} ({row.stix_id})")


@org_app.command("list")
def org_list() -> None:
    """List organisations."""
    with reading() as conn:
        rows = accounts.list_orgs(conn)
    table = Table("name", "identity", "host", "remote")
    for r in rows:
        table.add_row(r.name, r.stix_id, "yes" if r.is_host else "", "yes" if r.is_remote else "")
    out.print(table)


@user_app.command("create")
def user_create(
    email: str,
    org: str = typer.Option(..., "--org", help="organisation name"),
    role: str = typer.Option(..., "--role", help="admin, analyst, reader or sync"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    no_password: bool = typer.Option(False, "--no-password", help="token-only account"),
) -> None:
    """Create a user (password from a prompt or --password-stdin)."""
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with unit_of_work() as conn:
        row = accounts.create_user(conn, email, org, role, password)
    out.print(f"created user {row.email} ({role})")


@user_app.command("disable")
def user_disable(email: str) -> None:
    """Disable a user: its password and tokens stop working (until enabled again)."""
    with unit_of_work() as conn:
        accounts.set_user_disabled(conn, email, True)
    out.print(f"disabled {email}")


@user_app.command("enable")
def user_enable(email: str) -> None:
    """Enable a disabled user again."""
    with unit_of_work() as conn:
        accounts.set_user_disabled(conn, email, False)
    out.print(f"enabled {email}")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    with reading() as conn:
        rows = accounts.list_users(conn)
    table = Table("email", "organisation", "role")
    for r in rows:
        table.add_row(r.email, r.org, r.role)
    out.print(table)


@token_app.command("create")
def token_create(
    email: str,
    read_only: bool = typer.Option(False, "--read-only"),
    expires_days: int | None = typer.Option(None, "--expires-days", min=1, max=36_500),
) -> None:
    """Create an API token for a user; prints only the token."""
    with unit_of_work() as conn:
        token = accounts.create_token(conn, email, read_only=read_only, expires_days=expires_days)
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list(email: str | None = typer.Argument(None, help="one user's tokens (default: all)")) -> None:
    """Tokens: prefix, user, created, expires, last used, read-only or not, revoked or active (never the secret)."""
    with reading() as conn:
        rows = accounts.list_tokens(conn, email)
    if not rows:
        out.print("no tokens")
        return
    for r in rows:
        expires = _day(r.expires_us) if r.expires_us else "never"
        state = f"revoked {_day(r.revoked_us)}" if r.revoked_us else "active"
        mode = "read-only" if r.read_only else "read-write"
        used = f"used {_day(r.last_used_us)[:16]}Z" if r.last_used_us else "never used"
        sys.stdout.write(f"acc_{r.prefix}\t{r.email}\t{_day(r.created_us)}\t{expires}\t{used}\t{mode}\t{state}\n")


def _day(us: int) -> str:
    return micros_to_timestamp(us)[:19] + "Z"


@token_app.command("revoke")
def token_revoke(
    prefix: str = typer.Argument(..., help="the prefix as listed (acc_1c78d35c), its hex, or the token"),
) -> None:
    """Revoke a token by its prefix."""
    with unit_of_work() as conn:
        accounts.revoke_token(conn, prefix)
    out.print(f"revoked token {prefix}")


@group_app.command("create")
def group_create(
    name: str, org: list[str] = typer.Option([], "--org", help="member organisation (repeatable)")
) -> None:
    """Create a sharing group of organisations."""
    with unit_of_work() as conn:
        accounts.create_group(conn, name, org)
    out.print(f"created sharing group {name} ({', '.join(org) or 'no members'})")


@group_app.command("add")
def group_add(name: str, org: list[str] = typer.Option(..., "--org", help="organisation to add (repeatable)")) -> None:
    """Add organisations to a sharing group."""
    with unit_of_work() as conn:
        changed = accounts.change_members(conn, name, org, add=True)
    out.print(f"added {changed} organisation{'s' if changed != 1 else ''} to {name}")


@group_app.command("remove")
def group_remove(
    name: str, org: list[str] = typer.Option(..., "--org", help="organisation to remove (repeatable)")
) -> None:
    """Remove organisations from a sharing group."""
    with unit_of_work() as conn:
        changed = accounts.change_members(conn, name, org, add=False)
    out.print(f"removed {changed} organisation{'s' if changed != 1 else ''} from {name}")


@collection_app.command("create")
def collection_create(
    title: str,
    alias: str = typer.Option(..., "--alias"),
    read: list[str] = typer.Option([], "--read", help="reader org or group (repeatable)"),
    write: list[str] = typer.Option([], "--write", help="writer org or group (repeatable)"),
    description: str = typer.Option("", "--description"),
) -> None:
    """Create a collection with its readers and writers."""
    if not read and not write:
        fail("give at least one --read or --write organisation or group")
    with unit_of_work() as conn:
        row = accounts.create_collection(conn, title, alias, readers=read, writers=write, description=description)
    out.print(f"created collection {row.alias} ({row.uuid})")


def _grants(alias: str, read: list[str], write: list[str], *, grant: bool) -> None:
    with unit_of_work() as conn:
        changed = accounts.change_grants(conn, alias, readers=read, writers=write, grant=grant)
    verb = "granted" if grant else "revoked"
    out.print(f"{verb} {changed} grant{'s' if changed != 1 else ''} on {alias}")


@collection_app.command("grant")
def collection_grant(
    alias: str,
    read: list[str] = typer.Option([], "--read", help="org or group that may read it (repeatable)"),
    write: list[str] = typer.Option([], "--write", help="org or group that may write it (repeatable)"),
) -> None:
    """Let more organisations or groups read or write a collection (a partner's sync account's, say)."""
    _grants(alias, read, write, grant=True)


@collection_app.command("revoke")
def collection_revoke(
    alias: str,
    read: list[str] = typer.Option([], "--read", help="org or group that may no longer read it (repeatable)"),
    write: list[str] = typer.Option([], "--write", help="org or group that may no longer write it (repeatable)"),
) -> None:
    """Take read or write grants of a collection away."""
    _grants(alias, read, write, grant=False)


@collection_app.command("list")
def collection_list() -> None:
    """List collections with their readers and writers."""
    with reading() as conn:
        rows = [(r, accounts.collection_grants(conn, r.id)) for r in accounts.list_collections(conn)]
    table = Table("alias", "title", "id", "readers", "writers")
    for r, g in rows:
        table.add_row(r.alias, r.title, r.uuid, ", ".join(g["read"]), ", ".join(g["write"]))
    out.print(table)
