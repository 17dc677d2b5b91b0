"""Backups of a node's database (and, in a file of their own, its keys) and restores into an empty node.

A backup file is a tar archive holding `manifest.json` (format, database kind, schema revision, time) and one
database image: on SQLite a copy made with SQLite's online backup API (`database.sqlite`, a consistent snapshot
taken while the node keeps serving), on PostgreSQL a `pg_dump` custom-format archive (`database.pgdump`, one
snapshot transaction). The node's key directory (secret encryption, response signing) goes into a separate key
archive when asked: a database dump and the key that decrypts its secrets are kept apart (docs/keys.md).

A restore writes into an empty node only (no organisation, user, object or audit entry yet), of the same
database kind, then brings the schema to this version's head: a backup made by an older version restores.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from accord.core import keys
from accord.core.errors import AccordError, BadRequest, Conflict
from accord.core.migrate import alembic_config, upgrade

FORMAT = "accord-backup"
KEYS_FORMAT = "accord-keys"
VERSION = 1
MANIFEST = "manifest.json"
_IMAGES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
# Tables whose rows make a node "in use": a restore never writes over any of them.
_CONTENT_TABLES = ("org", "app_user", "stix_object", "audit_log")


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a backup file says about itself."""

    backend: str
    revision: str | None
    created: str


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did."""

    manifest: Manifest
    keys_restored: int
    unreadable_secrets: int


def _backend(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in _IMAGES:
        raise BadRequest(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None before any migration)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _pg_env(url: URL) -> dict[str, str]:
    """libpq's environment for the URL: the password never appears on a command line."""
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    tool = shutil.which(argv[0])
    if tool is None:
        raise AccordError(f"{argv[0]} is not installed (PostgreSQL client tools are needed to {what})")
    done = subprocess.run([tool, *argv[1:]], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise AccordError(f"{argv[0]} failed: {lines[0] if lines else f'exit status {done.returncode}'}")


@contextmanager
def _scratch(near: Path) -> Iterator[Path]:
    """A private temporary directory next to `near` (same file system, so a finished file is renamed in place)."""
    near.parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".accord-", dir=near.parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _temporary() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="accord-restore-") as path:
        yield Path(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def backup(engine: Engine, target: Path) -> Manifest:
    """Write a consistent backup of the node's database to `target` (replaced only once it is complete)."""
    backend = _backend(engine)
    manifest = Manifest(backend, current_revision(engine), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    with _scratch(target) as scratch:
        image = scratch / _IMAGES[backend]
        if backend == "sqlite":
            source = sqlite3.connect(str(engine.url.database), timeout=30)
            copy = sqlite3.connect(str(image))
            try:
                source.backup(copy)  # one consistent snapshot, even while other processes write
            finally:
                copy.close()
                source.close()
        else:
            _run(["pg_dump", "-Fc", "--no-owner", "--no-privileges", "-f", str(image)], _pg_env(engine.url), "back up")
        part = scratch / "backup.tar"
        with tarfile.open(part, "w") as tar:
            _add_bytes(tar, MANIFEST, _manifest_bytes(FORMAT, manifest))
            tar.add(image, arcname=image.name)
        _fsync(part)
        os.replace(part, target)
    return manifest


def backup_keys(target: Path) -> int:
    """Write the node's key directory to its own archive at `target` (mode 0600); how many key files it holds."""
    directory = keys.key_dir()
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    with _scratch(target) as scratch:
        part = scratch / "keys.tar"
        with tarfile.open(part, "w") as tar:
            info = Manifest("keys", None, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            _add_bytes(tar, MANIFEST, _manifest_bytes(KEYS_FORMAT, info))
            for path in files:
                _add_bytes(tar, f"keys/{path.name}", path.read_bytes())
        part.chmod(0o600)
        _fsync(part)
        os.replace(part, target)
    return len(files)


def _manifest_bytes(kind: str, manifest: Manifest) -> bytes:
    body = {"format": kind, "version": VERSION, "backend": manifest.backend, "revision": manifest.revision}
    body["created"] = manifest.created
    return json.dumps(body, indent=1).encode()


def _open_archive(path: Path, kind: str) -> tuple[tarfile.TarFile, Manifest]:
    what = "backup" if kind == FORMAT else "key backup"
    try:
        tar = tarfile.open(path, "r:")  # noqa: SIM115 (returned open; the caller closes it)
    except FileNotFoundError:
        raise BadRequest(f"no such file: {path}") from None
    except (tarfile.TarError, OSError) as exc:
        raise BadRequest(f"{path} is not an Accord {what} file ({exc})") from None
    try:
        member = tar.extractfile(MANIFEST)
        body = json.loads(member.read()) if member else None
    except (KeyError, ValueError, tarfile.TarError):
        body = None
    if not isinstance(body, dict) or body.get("format") != kind:
        tar.close()
        raise BadRequest(f"{path} is not an Accord {what} file")
    if body.get("version") != VERSION:
        tar.close()
        raise BadRequest(f"{path} is a {what} of format version {body.get('version')}; this Accord reads {VERSION}")
    return tar, Manifest(str(body.get("backend")), body.get("revision"), str(body.get("created", "")))


def _check_empty(engine: Engine) -> list[str]:
    """The node's tables, if it holds nothing a restore could overwrite; Conflict otherwise."""
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        for name in _CONTENT_TABLES:
            if name in tables and conn.execute(sa.text(f"SELECT 1 FROM {name} LIMIT 1")).first():
                raise Conflict(
                    "the node is not empty (it holds organisations, users, objects or audit entries); "
                    "restore into a new database"
                )
    return tables


def _known_revision(revision: str | None, path: Path) -> None:
    if revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    try:
        script.get_revision(revision)
    except (CommandError, RevisionError):
        raise BadRequest(
            f"{path} was made by a newer Accord (schema revision {revision}); upgrade Accord before restoring"
        ) from None


def restore(engine: Engine, source: Path, key_archive: Path | None = None) -> Restored:
    """Restore a backup (and optionally a key archive) into this empty node, then upgrade its schema."""
    backend = _backend(engine)
    tar, manifest = _open_archive(source, FORMAT)
    with tar:
        if manifest.backend != backend:
            raise BadRequest(f"{source} is a {manifest.backend} backup; this node's database is {backend}")
        _known_revision(manifest.revision, source)
        key_files = _read_key_archive(key_archive) if key_archive else {}
        _check_keys_fit(key_files)
        tables = _check_empty(engine)
        try:
            image = tar.extractfile(_IMAGES[backend])
        except KeyError:
            image = None
        if image is None:
            raise BadRequest(f"{source} holds no database image")
        engine.dispose()
        database = Path(str(engine.url.database)) if backend == "sqlite" else None
        # SQLite: beside the database, to be renamed into place; PostgreSQL: anywhere pg_restore can read it.
        with _scratch(database) if database else _temporary() as scratch:
            extracted = scratch / _IMAGES[backend]
            with extracted.open("wb") as out:
                shutil.copyfileobj(image, out, 1 << 20)
            if database is not None:
                _restore_sqlite(extracted, database)
            else:
                _restore_postgres(engine, extracted, tables)
    restored_keys = _install_keys(key_files)
    upgrade(engine)
    return Restored(manifest, restored_keys, unreadable_secrets(engine))


def _restore_sqlite(image: Path, database: Path) -> None:
    check = sqlite3.connect(str(image))
    try:
        problem = check.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise BadRequest(f"the backup's database image is damaged: {problem}")
        check.execute("PRAGMA journal_mode=WAL").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BadRequest(f"the backup's database image is damaged: {exc}") from None
    finally:
        check.close()
    if database.exists():
        # No process of the node may hold the file: a running server would keep writing to the replaced one.
        probe = sqlite3.connect(str(database), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN EXCLUSIVE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError:
            raise Conflict("the node's database is in use: stop `accord serve` and workers before restoring") from None
        finally:
            probe.close()
    _fsync(image)
    for suffix in ("-wal", "-shm"):  # the empty database's log must not be applied to the restored file
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.replace(image, database)
    _fsync(database.parent)


def _restore_postgres(engine: Engine, image: Path, tables: list[str]) -> None:
    if tables:  # a migrated but empty node: its (empty) tables make way for the backup's
        with engine.begin() as conn:
            quoted = ", ".join(conn.dialect.identifier_preparer.quote(t) for t in tables)
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {quoted} CASCADE"))
    argv = ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    _run([*argv, "-d", str(engine.url.database), str(image)], _pg_env(engine.url), "restore")
    engine.dispose()


def _read_key_archive(path: Path) -> dict[str, bytes]:
    tar, _ = _open_archive(path, KEYS_FORMAT)
    files: dict[str, bytes] = {}
    with tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("keys/")
            if member.name == MANIFEST:
                continue
            if not member.isfile() or not member.name.startswith("keys/") or "/" in name or name.startswith("."):
                raise BadRequest(f"{path} holds an unexpected entry: {member.name}")
            handle = tar.extractfile(member)
            assert handle is not None  # a regular file
            files[name] = handle.read()
    return files


def _check_keys_fit(files: dict[str, bytes]) -> None:
    directory = keys.key_dir()
    for name, data in files.items():
        present = directory / name
        if present.exists() and present.read_bytes() != data:
            raise Conflict(f"the key directory {directory} already holds another {name}: move it away first")


def _install_keys(files: dict[str, bytes]) -> int:
    if not files:
        return 0
    directory = keys.key_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, data in files.items():
        path = directory / name
        if path.exists():
            continue  # identical (checked before the restore)
        part = directory / f".{name}.restore"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, path)
    _fsync(directory)
    return len(files)


def unreadable_secrets(engine: Engine) -> int:
    """How many stored secrets the node's key directory cannot decrypt (0 when every one is readable)."""
    with engine.connect() as conn:
        return keys.count_unreadable_secrets(conn)
