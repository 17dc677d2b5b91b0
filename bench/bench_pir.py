"""The cost of matching new intelligence against joint intelligence requirements (PIRs) on ingest: `accord
import` of the same bundle of mixed objects into a node with no PIR and into one with 100 active PIRs (each with
names, techniques, keywords, domain suffixes and a CIDR; some match the bundle, so matches are recorded and
notified too). The two imports are timed in alternating rounds (ROUNDS) as CPU time (user + system of the
`accord import` process and the preparing processes it waits for: the machine's load does not count) and as
wall time; the round with the median CPU ratio is printed, with every round's ratios.

Run: python bench/bench_pir.py [N]   (the target: under 10% more time with 100 PIRs)
"""

from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import bundle, mixed

ROOT = Path(__file__).resolve().parent.parent
ACCORD = str(ROOT / ".venv" / "bin" / "accord")
ROUNDS = 5
PIRS = 100


def _node(url: str, pirs: int) -> None:
    """A fresh node with `pirs` active requirements (in a process of its own: settings and engines are cached)."""
    env = {**os.environ, "ACCORD_DATABASE_URL": url}
    subprocess.run([ACCORD, "init"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, __file__, "--setup", str(pirs)], env=env, check=True)


def _setup(pirs: int) -> None:
    """Here: an organisation, its analyst and `pirs` active requirements on the node of ACCORD_DATABASE_URL."""
    from accord.accounts import service as accounts
    from accord.core import db as core_db
    from accord.joint import pir
    from accord.sharing.repository import principal_for

    engine = core_db.get_engine()
    with core_db.transaction(engine) as conn:
        for name in ("Alpha", "Bravo"):
            accounts.create_org(conn, name, actor="bench")
        alpha = accounts.get_org_by_name_or_raise(conn, "Alpha")
        accounts.create_user(conn, "alice@alpha.example", "Alpha", "analyst", None)
        who = principal_for(conn, org_id=alpha.id, role="analyst", email="alice@alpha.example")
        for i in range(pirs):
            criteria = {
                "names": [f"Actor {i}", f"Group {i}a", f"Group {i}b", f"Family {i * 97}"],  # Family N: in the bundle
                "techniques": [f"T{1000 + i}", f"T{1100 + i}.001"],
                "keywords": [f"operation {i}", f"campaign word{i}"],
                "domains": [f"evil{i}.example", f"bad{i}.test"],
                "cidrs": [f"{i + 1}.{i}.0.0/16"],
            }
            pir.create_pir(conn, who, title=f"PIR {i}", participants=["Bravo"], criteria=criteria)
    engine.dispose()


def _cpu_of_children() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _import(path: Path, url: str) -> tuple[float, float, str]:
    """CPU seconds (the import and every process it waited for), wall seconds, and its summary line."""
    env = {**os.environ, "ACCORD_DATABASE_URL": url}
    cpu0, t0 = _cpu_of_children(), time.perf_counter()
    proc = subprocess.run([ACCORD, "import", str(path)], env=env, capture_output=True, text=True)
    elapsed, cpu = time.perf_counter() - t0, _cpu_of_children() - cpu0
    return cpu, elapsed, (proc.stdout.strip().splitlines() or [proc.stderr.strip()])[0]


def _matches(db: Path) -> int:
    """How many matches the node (a SQLite file) recorded."""
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM joint_pir_match").fetchone()[0])
    finally:
        con.close()


def main() -> None:
    if sys.argv[1:2] == ["--setup"]:
        _setup(int(sys.argv[2]))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_bytes(orjson.dumps(bundle(mixed(n))))
        cpu: dict[str, list[float]] = {"bare": [], "pirs": []}
        wall: dict[str, list[float]] = {"bare": [], "pirs": []}
        summary, matched = "", 0
        for i in range(ROUNDS):
            urls = {"bare": f"sqlite:///{tmp}/bare{i}.db", "pirs": f"sqlite:///{tmp}/pirs{i}.db"}
            _node(urls["bare"], 0)
            _node(urls["pirs"], PIRS)
            for kind in ("bare", "pirs")[:: 1 if i % 2 == 0 else -1]:  # alternate which goes first
                used, elapsed, summary = _import(path, urls[kind])
                cpu[kind].append(used)
                wall[kind].append(elapsed)
            matched = _matches(Path(tmp) / f"pirs{i}.db")
            for db in Path(tmp).glob("*.db*"):
                db.unlink()
    ratios = [p / b for b, p in zip(cpu["bare"], cpu["pirs"], strict=True)]
    wall_ratios = [p / b for b, p in zip(wall["bare"], wall["pirs"], strict=True)]
    at = ratios.index(statistics.median_low(ratios))
    print(f"\n`accord import` of {n:,} mixed objects (SQLite), no PIR vs {PIRS} active PIRs; median of {ROUNDS} rounds")
    print(f"{'what':40} {'CPU s':>7} {'wall s':>7} {'objects/CPU s':>14} {'CPU vs no PIR':>14}")
    for kind, label in (("bare", "accord import, no PIR"), ("pirs", f"accord import, {PIRS} active PIRs")):
        c, w = cpu[kind][at], wall[kind][at]
        print(f"{label:40} {c:7.2f} {w:7.2f} {n / c:14,.0f} {c / cpu['bare'][at]:13.3f}x")
    print(f"import result: {summary}; matches recorded with {PIRS} PIRs: {matched:,}")
    print("each round, CPU with PIRs / without:  " + ", ".join(f"{r:.3f}x" for r in ratios))
    print("each round, wall with PIRs / without: " + ", ".join(f"{r:.2f}x" for r in wall_ratios))
    print(f"median CPU ratio {statistics.median(ratios):.3f}x (target < 1.10x)")


if __name__ == "__main__":
    main()
