"""The `accord` command line."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import NoReturn

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from accord.cli.admin import collection_app, group_app, org_app, token_app, user_app
from accord.cli.common import fail, out, reading, unit_of_work
from accord.cli.extract_cmd import extract_cmd
from accord.cli.feed_cmd import feed_app
from accord.cli.lookup_cmd import lookup_cmd
from accord.cli.node_cmd import node_app
from accord.cli.objects import export_cmd, import_cmd
from accord.cli.peer_cmd import peer_app, sync_cmd
from accord.cli.worker_cmd import worker_cmd
from accord.core.db import dispose_engines, get_engine
from accord.core.errors import AccordError

app = typer.Typer(
    help="Accord: federated threat-intelligence sharing over STIX 2.1 and TAXII 2.1.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(group_app, name="group")
app.add_typer(collection_app, name="collection")
app.add_typer(audit_app, name="audit")
app.command("import")(import_cmd)
app.command("export")(export_cmd)
app.command("lookup")(lookup_cmd)
app.command("extract")(extract_cmd)
app.command("worker")(worker_cmd)
app.add_typer(feed_app, name="feed")
app.add_typer(peer_app, name="peer")
app.command("sync")(sync_cmd)
app.add_typer(node_app, name="node")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the shipped migrations (safe to re-run)."""
    from accord.core.migrate import upgrade

    upgrade(get_engine())
    out.print("database is up to date")


@app.command()
def init() -> None:
    """Create or upgrade the database and the host organisation (safe to re-run)."""
    from accord.core.migrate import upgrade
    from accord.demo.service import ensure_host_org

    upgrade(get_engine())
    with unit_of_work() as conn:
        ensure_host_org(conn)
    out.print("node initialised")


@app.command()
def demo() -> None:
    """Load the demo community (two organisations and their intelligence) once."""
    from accord.core.migrate import upgrade
    from accord.demo.service import DEMO_PASSWORD, load_demo

    upgrade(get_engine())
    with unit_of_work() as conn:
        result = load_demo(conn)
    if result.created:
        out.print(f"demo loaded: {result.report.stored} objects stored")
    else:
        out.print("demo already loaded")
    for email, org, role in result.users:
        out.print(f"  {role:8} {email:24} password: {DEMO_PASSWORD}   ({org})")


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
    out.print(f"Accord listening on http://{host}:{port}/  (TAXII at /taxii2/, API at /api/v1/, health /healthz)")
    out.print(f"database: {settings.database_url}")
    import os

    from accord.core.helpers import START_WITH_SERVER

    os.environ[START_WITH_SERVER] = "1"  # for the API processes uvicorn starts
    if no_jobs:
        os.environ["ACCORD_RUN_JOBS"] = "0"
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
    out.print(f"audit chain intact: {result.entries} entries")


def main() -> None:
    """Console entry point: turns expected errors into one line on stderr."""
    try:
        app()
    except AccordError as exc:
        fail(exc.message, 2 if exc.status in (400, 404, 409, 413, 415) else 1)
    except OperationalError as exc:
        fail(f"database error: {str(exc.orig).splitlines()[0] if exc.orig else exc}")
    except ProgrammingError as exc:
        fail(f"database schema problem (run `accord db upgrade`): {str(exc.orig).splitlines()[0]}")
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()


def run() -> NoReturn:
    """The `accord` command: main(), then the process ends without freeing its heap object by object.

    After a bulk import the interpreter's own shutdown spends about 0.2 s freeing the parsed, prepared and
    loaded objects (warninglists) one at a time, for nothing. Here the output is flushed, the database
    connections are closed, the exit handlers of Python and its libraries run, and then the process exits.
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
