"""Blocklist and RPZ export rates before and after a change, paired: a store of N indicators for each source tree,
made by its own bench_exports.load (the same content, in the schema of its own migrations), exported by the
child of its bench_exports.py (its own `src`) in interleaved rounds, the two trees in a random order each
round, so that load on a shared machine falls on both alike. Prints the median
CPU seconds (the export process's own CPU time) and values/s of each (lines; an RPZ zone's domains), the ratio,
and checks both exported as many.

Run: python bench/bench_exports_paired.py BEFORE_TREE [AFTER_TREE [N [ROUNDS]]]
     (e.g. a `git worktree add /tmp/base main` of the code before; AFTER_TREE defaults to this tree)
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_LOAD = "import sys, bench_exports; bench_exports.load(sys.argv[1], int(sys.argv[2]))"
FORMATS = (("blocklist ip", "blocklist", "ip"), ("blocklist domain", "blocklist", "domain"), ("rpz", "rpz", ""))


def _run(tree: str, url: str, fmt: str, kind: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree}/src"}
    done = subprocess.run(
        [sys.executable, f"{tree}/bench/bench_exports.py", "--child", url, fmt, kind],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    before = sys.argv[1]
    after = sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parents[1])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    rng = random.Random()
    with tempfile.TemporaryDirectory() as tmp:
        urls = {}
        for name, tree in (("before", before), ("after", after)):
            urls[tree] = f"sqlite:///{tmp}/exports-{name}-{n}.db"
            env = {**os.environ, "PYTHONPATH": f"{tree}/src:{tree}/bench"}
            subprocess.run([sys.executable, "-c", _LOAD, urls[tree], str(n)], check=True, env=env)
        cpu: dict[tuple[str, str], list[float]] = {}
        lines: dict[tuple[str, str], set[int]] = {}
        for _ in range(rounds):
            for label, fmt, kind in FORMATS:
                trees = [("before", before), ("after", after)]
                rng.shuffle(trees)
                for name, tree in trees:
                    r = _run(tree, urls[tree], fmt, kind)
                    cpu.setdefault((label, name), []).append(r["cpu"])
                    values = (int(r["lines"]) - 3) // 2 if fmt == "rpz" else int(r["lines"])  # a zone: 2 records
                    lines.setdefault((label, name), set()).add(values)
    print(f"Paired exports of a store of {n:,} indicators, median of {rounds} rounds (CPU seconds of the export)")
    head = ("format", "values", "before s", "after s", "before values/s", "after values/s", "x")
    print(f"{head[0]:18} {head[1]:>8} {head[2]:>9} {head[3]:>9} {head[4]:>15} {head[5]:>14} {head[6]:>6}")
    for label, _fmt, _kind in FORMATS:
        (count,) = lines[(label, "before")]
        assert lines[(label, "after")] == {count}, (label, lines)
        b, a = statistics.median(cpu[(label, "before")]), statistics.median(cpu[(label, "after")])
        print(f"{label:18} {count:8,} {b:9.3f} {a:9.3f} {count / b:15,.0f} {count / a:14,.0f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
