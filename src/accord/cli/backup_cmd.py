"""`accord backup FILE` and `accord restore FILE`: the node's database (and keys) to a file and back."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from accord.audit.service import record
from accord.cli.common import unit_of_work
from accord.core import backup as backups
from accord.core.db import get_engine
from accord.core.errors import BadRequest

_KEYS_HELP = "also write the key directory (secret encryption, signing) to this separate file (keep it apart)"


def backup_cmd(
    file: Path = typer.Argument(..., help="the backup file to write (replaced when complete)"),
    keys: Path | None = typer.Option(None, "--keys", help=_KEYS_HELP),
) -> None:
    """Back up the node's database while it runs (SQLite online backup; pg_dump custom format on PostgreSQL)."""
    if keys is not None and keys.resolve() == file.resolve():
        raise BadRequest("give --keys a file of its own: the keys are kept apart from the database")
    engine = get_engine()
    # Recorded before the snapshot, so the backup itself shows when it was taken.
    with unit_of_work() as conn:
        record(conn, "cli", "node.backup", str(file), keys=keys is not None)
    manifest = backups.backup(engine, file)
    line = f"backup written to {file} ({manifest.backend}, schema {manifest.revision or 'none'})"
    if keys is not None:
        count = backups.backup_keys(keys)
        line += f"; {count} key files written to {keys}"
    sys.stdout.write(line + "\n")


def restore_cmd(
    file: Path = typer.Argument(..., help="a file written by `accord backup`"),
    keys: Path | None = typer.Option(None, "--keys", help="the key file written by `accord backup --keys`"),
) -> None:
    """Restore a backup into this empty node (stop the node first), then bring its schema up to date."""
    engine = get_engine()
    result = backups.restore(engine, file, keys)
    with unit_of_work() as conn:
        record(conn, "cli", "node.restore", str(file), taken=result.manifest.created, keys=result.keys_restored)
    sys.stdout.write(
        f"restored {file} (taken {result.manifest.created}, schema {result.manifest.revision or 'none'}); "
        f"{result.keys_restored} key files restored\n"
    )
    if result.unreadable_secrets:
        sys.stderr.write(
            f"accord: warning: {result.unreadable_secrets} stored secrets (feed or peer credentials) cannot be "
            "decrypted with the node's keys: restore the key file too (`accord restore FILE --keys KEYFILE`) "
            "or enter those credentials again\n"
        )
