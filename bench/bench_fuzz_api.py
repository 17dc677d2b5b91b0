"""Schemathesis over the OpenAPI document, as an admin and as an analyst, until at least N cases have run
(default 10,000): the nightly-size run of the bounded test tests/integration/api/test_schemathesis.py.

Prints, per backend and role side by side, the cases run, their answers by class, the 5xx found and the errors
that were not problem JSON (both must be 0), then each finding. Exit status 1 when anything was found.
Run: python bench/bench_fuzz_api.py [CASES] [--only sqlite|postgres]
(ACCORD_BENCH_POSTGRES_URL, a server where a database may be created, adds a PostgreSQL run; `--only postgres`
runs that one alone)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUND_EXAMPLES = 25  # per operation, mode and role in one round; rounds repeat until the target is reached


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    """The database URL of a fresh node; a PostgreSQL database made for the run is dropped after it."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'fuzz.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from accord.core.db import normalize_url

    base = normalize_url(os.environ["ACCORD_BENCH_POSTGRES_URL"])
    name = f"accord_fuzz_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(kind: str, target: int) -> tuple[float, object]:
    """Fuzz a fresh node on this backend until `target` cases have run."""
    from tests import fuzz_api

    from accord.api.app import create_app
    from accord.core import db as core_db
    from accord.core import settings as core_settings
    from accord.core.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp)) as url:
        os.environ["ACCORD_DATABASE_URL"] = url
        os.environ["ACCORD_VAR_DIR"] = str(Path(tmp) / "var")
        os.environ["ACCORD_RUN_JOBS"] = "0"
        core_settings.get_settings.cache_clear()
        core_db.get_engine.cache_clear()
        upgrade(core_db.get_engine())
        tokens = fuzz_api.seed(core_db.get_engine())
        app = create_app()
        total = fuzz_api.FuzzResult()
        started = time.monotonic()
        while total.cases < target:
            one = fuzz_api.run(app, tokens, examples_per_operation=ROUND_EXAMPLES)
            total.cases += one.cases
            total.operations = one.operations
            total.findings += one.findings
            for status, n in one.by_status.items():
                total.by_status[status] = total.by_status.get(status, 0) + n
            for who, counts in one.by_who.items():
                mine = total.by_who.setdefault(who, {})
                for status, n in counts.items():
                    mine[status] = mine.get(status, 0) + n
        core_db.get_engine().dispose()
        return time.monotonic() - started, total


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="?", type=int, default=10_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    target = args.cases
    kinds = ["sqlite"] + (["postgres"] if os.environ.get("ACCORD_BENCH_POSTGRES_URL") else [])
    if args.only:
        if args.only not in kinds:
            print("set ACCORD_BENCH_POSTGRES_URL for --only postgres")
            return 2
        kinds = [args.only]
    header = f"{'backend':<9} {'role':<8} {'cases':>7} {'2xx':>6} {'4xx':>6} {'5xx':>5} {'not problem JSON':>17}"
    rows: list[str] = []
    found = []
    for kind in kinds:
        seconds, result = run_backend(kind, target)
        for who, counts in sorted(result.by_who.items()):  # type: ignore[attr-defined]
            cases = sum(counts.values())
            ok = sum(n for s, n in counts.items() if s < 300)
            client = sum(n for s, n in counts.items() if 400 <= s < 500)
            server = sum(n for s, n in counts.items() if s >= 500)
            shape = sum(1 for f in result.findings if f.who == who and f.status < 500)  # type: ignore[attr-defined]
            rows.append(f"{kind:<9} {who:<8} {cases:>7} {ok:>6} {client:>6} {server:>5} {shape:>17}")
        rows.append(
            f"{kind:<9} {'all':<8} {result.cases:>7} ({result.operations} operations, {seconds:.0f} s, "  # type: ignore[attr-defined]
            f"{result.cases / seconds:.1f} cases/s)"  # type: ignore[attr-defined]
        )
        found += result.findings  # type: ignore[attr-defined]
    print(f"schemathesis over the OpenAPI document, >= {target:,} cases per backend")
    print(header)
    print("\n".join(rows))
    for f in found[:50]:
        print(f"FOUND {f.who} {f.status} {f.reason}: {f.request}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
