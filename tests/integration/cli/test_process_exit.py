"""The `accord` process itself: it ends without tearing its heap down, and loses nothing on the way out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from sqlalchemy import func, select

from accord.core.db import get_engine
from accord.models.objects import stix_object
from tests.builders import bundle, make_indicator


def _accord(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """`accord ARGS` in its own process, through the console script's entry point."""
    code = "from accord.cli.main import run; run()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        input=stdin,
        capture_output=True,
        env=os.environ.copy(),
        timeout=120,
    )


def test_exit_codes_and_one_line_errors_survive_the_fast_exit(db_url):
    assert _accord("init").returncode == 0
    missing = _accord("import", "/nonexistent/bundle.json")
    assert missing.returncode != 0
    assert missing.stderr.decode().startswith("accord: error: ")
    assert len(missing.stderr.decode().strip().splitlines()) == 1
    empty = _accord("import", "-", stdin=b'{"type": "bundle", "id": "bundle--1", "objects": []}')
    assert empty.returncode == 1
    assert _accord("--help").returncode == 0


def test_an_import_is_committed_and_its_database_closed_and_an_export_written_whole(db_url, tmp_path: Path):
    assert _accord("init").returncode == 0
    objs = [make_indicator() for _ in range(3000)]
    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(bundle(*objs)))
    done = _accord("import", str(src))
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("stored 3000,")
    if db_url.startswith("sqlite:///"):  # the last connection closed: SQLite folded its log back and removed it
        assert not Path(db_url.removeprefix("sqlite:///") + "-wal").exists()
    with get_engine().connect() as c:
        assert c.execute(select(func.count()).select_from(stix_object)).scalar_one() >= 3000
    exported = _accord("export")  # megabytes on stdout, through a pipe: all of it arrives
    assert exported.returncode == 0
    ids = {o["id"] for o in orjson.loads(exported.stdout)["objects"]}
    assert {o["id"] for o in objs} <= ids
