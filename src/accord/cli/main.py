"""The `accord` command line."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperGroup

from accord.cli import common
from accord.cli.common import fail, reading, unit_of_work
from accord.core.errors import AccordError

if TYPE_CHECKING:
    from typer._click import Command, Context  # typer's own copy of click, which TyperGroup is typed with

# Every command in the order the help page lists it; a command defined in another module names it and its
# attribute, so that module is imported only when its command runs or a help page lists it. `accord extract`
# then starts without the database layer, the account services and the store (bench_extract_startup.py).
_COMMANDS: dict[str, tuple[str, str] | None] = {
    "import": ("accord.cli.objects", "import_cmd"),
    "export": ("accord.cli.objects", "export_cmd"),
    "lookup": ("accord.cli.lookup_cmd", "lookup_cmd"),
    "extract": ("accord.cli.extract_cmd", "extract_cmd"),
    "worker": ("accord.cli.worker_cmd", "worker_cmd"),
    "sync": ("accord.cli.peer_cmd", "sync_cmd"),
    "init": None,
    "demo": None,
    "serve": None,
    "db": None,
    "org": ("accord.cli.admin", "org_app"),
    "user": ("accord.cli.admin", "user_app"),
    "token": ("accord.cli.admin", "token_app"),
    "group": ("accord.cli.admin", "group_app"),
    "collection": ("accord.cli.admin", "collection_app"),
    "audit": None,
    "backup": ("accord.cli.backup_cmd", "backup_cmd"),
    "restore": ("accord.cli.backup_cmd", "restore_cmd"),
    "feed": ("accord.cli.feed_cmd", "feed_app"),
    "peer": ("accord.cli.peer_cmd", "peer_app"),
    "node": ("accord.cli.node_cmd", "node_app"),
    "case": ("accord.cli.joint_cmd", "case_app"),
    "task": ("accord.cli.joint_cmd", "task_app"),
    "rfi": ("accord.cli.joint_cmd", "rfi_app"),
    "pir": ("accord.cli.joint_cmd", "pir_app"),
    "webhook": ("accord.cli.webhook_cmd", "webhook_app"),
}


class _LazyGroup(TyperGroup):
    """The root group: commands of other modules are built from them on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [name for name, where in _COMMANDS.items() if where is not None or name in self.commands]

    def resolve_command(self, ctx: Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] not in _COMMANDS:  # a typo: "did you mean" looks among the commands built
            for name in self.list_commands(ctx):
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = self.commands.get(cmd_name)
        where = _COMMANDS.get(cmd_name)
        if found is None and where is not None:
            found = self.commands[cmd_name] = _build(cmd_name, getattr(importlib.import_module(where[0]), where[1]))
        return found


def _build(name: str, target: typer.Typer | Callable[..., Any]) -> Command:
    """The click command that registering target (a function or a Typer app) on the root app would make."""
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    return typer.main.get_group(holder).commands[name]


app = typer.Typer(
    help="Accord: federated threat-intelligence sharing over STIX 2.1 and TAXII 2.1.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_LazyGroup,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the shipped migrations (safe to re-run)."""
    from accord.core.db import get_engine
    from accord.core.migrate import upgrade

    upgrade(get_engine())
    common.out.print("database is up to date")


@app.command()
def init() -> None:
    """Create or upgrade the database and the host organisation (safe to re-run)."""
    from accord.core.db import get_engine
    from accord.core.migrate import upgrade
    from accord.demo.service import ensure_host_org

    upgrade(get_engine())
    with unit_of_work() as conn:
        ensure_host_org(conn)
    common.out.print("node initialised")


@app.command()
def demo() -> None:
    """Load the demo community (two organisations and their intelligence) once."""
    from accord.core.db import get_engine
    from accord.core.migrate import upgrade
    from accord.demo.service import DEMO_PASSWORD, load_demo

    upgrade(get_engine())
    with unit_of_work() as conn:
        result = load_demo(conn)
    if result.created:
        common.out.print(f"demo loaded: {result.report.stored} objects stored")
    else:
        common.out.print("demo already loaded")
    for email, org, role in result.users:
        common.out.print(f"  {role:8} {email:24} password: {DEMO_PASSWORD}   ({org})")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8400, "--port"),
    workers: int = typer.Option(1, "--workers", help="API processes"),
    no_jobs: bool = typer.Option(False, "--no-jobs", help="do not run queued jobs inside this server"),
) -> None:
    """Serve the API and UI (and, in the embedded setup, run queued jobs)."""
    import uvicorn

    from accord.core.settings import get_settings

    settings = get_settings()
    url = f"http://{host}:{port}/"
    common.out.print(f"Accord listening on {url}  (TAXII at /taxii2/, API at /api/v1/, health /healthz)")
    common.out.print(f"database: {settings.database_url}")
    import os

    from accord.core.helpers import START_WITH_SERVER

    # The API processes read these through their settings: uvicorn's workers at start, this process (one worker)
    # once its settings are read again.
    os.environ[START_WITH_SERVER] = "1"
    if no_jobs:
        os.environ["ACCORD_RUN_JOBS"] = "0"
    get_settings.cache_clear()
    uvicorn.run(
        "accord.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain; report the first broken entry."""
    from accord.audit.service import verify

    with reading() as conn:
        result = verify(conn)
    if not result.ok:
        fail(f"audit chain broken at entry {result.broken_seq}: {result.reason} ({result.entries} entries verified)")
    common.out.print(f"audit chain intact: {result.entries} entries")


def main() -> None:
    """Console entry point: turns expected errors into one line on stderr."""
    try:
        app()
    except AccordError as exc:
        fail(exc.message, 2 if exc.status in (400, 404, 409, 413, 415) else 1)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
    except Exception as exc:
        message = _database_error(exc)
        if message is None:
            raise
        fail(message)


def _database_error(exc: Exception) -> str | None:
    """The one line for a database error; None for any other exception."""
    errors = sys.modules.get("sqlalchemy.exc")  # not loaded: the command never touched the database
    if errors is None:
        return None
    if isinstance(exc, errors.OperationalError):
        from accord.core.db import lock_timed_out

        if lock_timed_out(exc):
            return "the database is busy with other writes (lock timeout); nothing was stored: try again"
        return f"database error: {str(exc.orig).splitlines()[0] if exc.orig else exc}"
    if isinstance(exc, errors.ProgrammingError):
        return f"database schema problem (run `accord db upgrade`): {str(exc.orig).splitlines()[0]}"
    return None


def run() -> NoReturn:
    """The `accord` command: main(), then the process ends without freeing its heap object by object.

    After a bulk import the interpreter's own shutdown would free the parsed, prepared and loaded objects
    (warninglists) one at a time, for nothing (bench/bench_import.py times whole `accord import` processes).
    Here the output is flushed, the database connections are closed, the exit handlers of Python and its
    libraries run, and then the process exits.
    """
    code = 0
    try:
        main()
    except SystemExit as exc:
        if isinstance(exc.code, str):  # what Python itself would print for such an exit
            sys.stderr.write(exc.code + "\n")
            code = 1
        else:
            code = exc.code or 0
    _flush()
    if "accord.core.db" in sys.modules:  # otherwise this process made no engine
        from accord.core.db import dispose_engines

        dispose_engines()
    atexit._run_exitfuncs()  # logging, multiprocessing, temporary files: everything registered to run at exit
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed stream or a reader that went away
            stream.flush()


if __name__ == "__main__":
    run()
