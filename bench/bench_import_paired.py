"""`accord import` of one generated bundle by several source trees, in interleaved rounds, in CPU time.

Each tree (say, a `git worktree add /tmp/base <commit>` of the code before a change) runs
`python -m accord.cli.main init` then a timed `import` of the same bundle (bench/datagen.py) into its own new
SQLite store, with its own `src` first on PYTHONPATH. Each round runs every tree once, in a random order, so that
load on a shared machine falls on all alike. CPU is that of the import process and its helper processes
(RUSAGE_CHILDREN: user + system); wall time is printed beside it but means little on a busy machine. The table
gives each tree's median CPU and its paired ratio to the first tree (the median over rounds of the per-round ratio).

Each tree's modules are byte-compiled first, as an installed package's are: with PYTHONDONTWRITEBYTECODE set (as
on CI machines) every run would otherwise compile the whole package from source again, a cost that grows with
the size of the tree and that no installation pays. --source keeps that cost in (the trees' bytecode is removed).

Run: python bench/bench_import_paired.py [--source] [N [ROUNDS]] NAME=TREE ... (default: this tree, as "this")
     e.g. python bench/bench_import_paired.py 20000 9 before=/tmp/base after=.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import bundle, cpu_probe, mixed


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(tree: Path, folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(tree / "src"),
        "ACCORD_DATABASE_URL": f"sqlite:///{folder}/accord.db",
        "ACCORD_VAR_DIR": str(folder / "var"),
    }


def _check(tree: Path) -> None:
    """The tree's own package is the one imported (not the installed one)."""
    where = subprocess.run(
        [sys.executable, "-c", "import accord; print(accord.__file__)"],
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(tree)):
        sys.exit(f"{tree}: imports accord from {where}")


def one_import(tree: Path, path: Path, folder: Path) -> tuple[float, float, str]:
    """`init` then a timed `import` into a new store: CPU seconds (with helpers), wall seconds, the summary."""
    folder.mkdir()
    env = _env(tree, folder)
    cli = [sys.executable, "-m", "accord.cli.main"]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True)
    cpu, wall = _children_cpu(), time.perf_counter()
    proc = subprocess.run([*cli, "import", str(path)], env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"{tree}: import failed: {proc.stderr.strip()}")
    for db in folder.glob("accord.db*"):
        db.unlink()
    return cpu, wall, (proc.stdout.strip().splitlines() or [""])[0]


def main() -> None:
    source = "--source" in sys.argv
    args = [a for a in sys.argv[1:] if "=" not in a and not a.startswith("--")]
    n = int(args[0]) if args else 20_000
    rounds = int(args[1]) if len(args) > 1 else 9
    trees = {k: Path(v).resolve() for k, v in (a.split("=", 1) for a in sys.argv[1:] if "=" in a)}
    trees = trees or {"this": Path(__file__).resolve().parents[1]}
    for tree in trees.values():
        _check(tree)
        if source:  # no bytecode of the tree's own modules left from an earlier run
            for cache in list((tree / "src").rglob("__pycache__")):
                shutil.rmtree(cache)
        else:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "src")], check=True)
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    wall: dict[str, list[float]] = {name: [] for name in trees}
    summaries: dict[str, set[str]] = {name: set() for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.json"
        path.write_bytes(orjson.dumps(bundle(mixed(n))))
        mb = path.stat().st_size / 1e6
        probe = cpu_probe()
        for r in range(rounds):
            for name in random.sample(list(trees), len(trees)):
                c, w, summary = one_import(trees[name], path, Path(tmp) / f"{name}-{r}")
                cpu[name].append(c)
                wall[name].append(w)
                summaries[name].add(summary)
    first = next(iter(trees))
    how = "modules compiled from source every run" if source else "byte-compiled modules"
    print(f"\n`accord import` of {n:,} mixed objects ({mb:.1f} MB), SQLite, {rounds} interleaved rounds, {how}")
    print(f"{'tree':10} {'cpu med s':>9} {'cpu min s':>9} {'wall med s':>10} {'cpu vs ' + first:>14}  rounds' ratios")
    for name in trees:
        ratios = [c / b for c, b in zip(cpu[name], cpu[first], strict=True)]
        print(
            f"{name:10} {statistics.median(cpu[name]):9.2f} {min(cpu[name]):9.2f} {statistics.median(wall[name]):10.2f}"
            f" {statistics.median(ratios):13.3f}x  " + " ".join(f"{x:.2f}" for x in ratios)
        )
    for name in trees:
        print(f"{name}: {' | '.join(sorted(summaries[name]))}")
    print(f"a fixed CPU loop took {probe:.0f} ms before and {cpu_probe():.0f} ms after (this machine's speed drifts)")


if __name__ == "__main__":
    main()
