"""Import throughput: `accord import` of 100,000 mixed objects vs parsing + raw inserts into SQLite.

The baseline and the default import are timed in alternating rounds (ROUNDS); the round with the median ratio
is printed, with every round's ratio: this shared machine's speed drifts by a third from minute to minute.

Run: python bench/bench_import.py [N]
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import bundle, cpu_probe, mixed

ROOT = Path(__file__).resolve().parent.parent
ACCORD = str(ROOT / ".venv" / "bin" / "accord")
ROUNDS = 5


def baseline(path: Path, db: Path) -> float:
    """orjson-parse the file and insert raw rows into an empty SQLite table in one transaction."""
    t0 = time.perf_counter()
    objs = orjson.loads(path.read_bytes())["objects"]
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE raw (id TEXT, modified TEXT, body BLOB)")
    with con:
        con.executemany(
            "INSERT INTO raw VALUES (?, ?, ?)",
            ((o.get("id"), o.get("modified"), orjson.dumps(o)) for o in objs),
        )
    con.close()
    return time.perf_counter() - t0


def accord_import(path: Path, url: str, **settings: str) -> tuple[float, str]:
    """`accord init` then a timed `accord import` of the file."""
    env = {**os.environ, "ACCORD_DATABASE_URL": url, **settings}
    subprocess.run([ACCORD, "init"], env=env, check=True, capture_output=True)
    t0 = time.perf_counter()
    proc = subprocess.run([ACCORD, "import", str(path)], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    return elapsed, (proc.stdout.strip().splitlines() or [proc.stderr.strip()])[0]


def _remove_databases(folder: Path) -> None:
    """Delete a round's databases, so that no round runs beside the files of the ones before it (and the temporary
    folder does not grow by 120 MB a round)."""
    for db in folder.glob("*.db*"):
        db.unlink()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_bytes(orjson.dumps(bundle(mixed(n))))
        mb = path.stat().st_size / 1e6
        probe = cpu_probe()
        bases, accs = [], []
        for i in range(ROUNDS):
            bases.append(baseline(path, Path(tmp) / f"base{i}.db"))
            elapsed, summary = accord_import(path, f"sqlite:///{tmp}/accord{i}.db")
            accs.append(elapsed)
            _remove_databases(Path(tmp))
        # The round whose ratio is the median: its own baseline and import (medians taken apart would pair a
        # baseline and an import from different minutes).
        ratios = [b / a for b, a in zip(bases, accs, strict=True)]
        median_round = ratios.index(statistics.median_low(ratios))
        base, acc = bases[median_round], accs[median_round]
        bare, bare_summary = accord_import(path, f"sqlite:///{tmp}/bare.db", ACCORD_VALUE_INDEX="false")
        rows = [("baseline: orjson parse + raw INSERT (SQLite, 1 tx)", base, "")]
        rows.append(("accord import (SQLite, default: value index on)", acc, summary))
        rows.append(("accord import (SQLite, value index off)", bare, bare_summary))
        pg = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
        if pg:
            acc_pg, summary_pg = accord_import(path, pg)
            rows.append(("accord import (PostgreSQL)", acc_pg, summary_pg))
    print(f"\nImport of {n:,} mixed objects ({mb:.1f} MB), 1% invalid; first two rows: the median of {ROUNDS} rounds")
    print(f"{'what':52} {'seconds':>8} {'objects/s':>10} {'vs baseline':>11}  result")
    for name, secs, note in rows:
        print(f"{name:52} {secs:8.2f} {n / secs:10,.0f} {base / secs:10.0%}  {note}")
    print("each round, import vs baseline: " + ", ".join(f"{ratio:.0%}" for ratio in ratios))
    after = cpu_probe()
    print(f"a fixed CPU loop took {probe:.0f} ms before and {after:.0f} ms after (this shared machine's speed drifts)")


if __name__ == "__main__":
    main()
