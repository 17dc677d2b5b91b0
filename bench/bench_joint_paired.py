"""Opening a large joint case, before and after a change, in interleaved rounds: what bench_joint.py times
(a partner's analyst opens the case: view + first 50 tasks; the correlation summary; both), in two long-lived
processes, each running one source tree (its own `src` and `bench/bench_joint.py`) on its own new SQLite
store. Each round asks both processes in a random order, so that load on a shared machine falls on both alike;
the table gives wall and CPU (process) time.

Run: python bench/bench_joint_paired.py BEFORE_TREE [AFTER_TREE [LINKS [TASKS [ROUNDS]]]]
     (e.g. a `git worktree add /tmp/base main` of the code before; AFTER_TREE defaults to this tree)
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTIONS = ("open", "correlate", "open + correlate")


def child(root: str, links: int, tasks: int) -> None:
    """Build the store with the tree at `root`, then time one action per line read from stdin."""
    sys.path[:0] = [f"{root}/src", f"{root}/bench"]
    import accord
    import bench_joint as bj
    from accord.accounts import service as accounts
    from accord.core import db as core_db
    from accord.core.db import read_transaction, transaction
    from accord.core.migrate import upgrade
    from accord.demo.service import ensure_host_org
    from accord.sharing.repository import principal_for

    assert accord.__file__.startswith(root), accord.__file__
    engine = core_db.get_engine()
    upgrade(engine)
    with transaction(engine) as conn:
        ensure_host_org(conn)
        for name in ("Alpha", "Bravo", "Charlie"):
            accounts.create_org(conn, name, actor="bench")
        accounts.create_user(conn, "alice@alpha.example", "Alpha", "analyst", None)
        accounts.create_user(conn, "bob@bravo.example", "Bravo", "analyst", None)
        accounts.create_collection(conn, "Alpha intel", "alpha-intel", readers=["Alpha"], writers=["Alpha"])
    with transaction(engine) as conn:
        large = bj._build(conn, links, tasks, 100_000, "large case")
    with read_transaction(engine) as conn:
        bravo = accounts.get_org_by_name_or_raise(conn, "Bravo")
        bob = principal_for(conn, org_id=bravo.id, role="analyst", email="bob@bravo.example")
        bj._open(conn, bob, large)  # warm
        bj._correlate(conn, bob, large)
        print("ready", flush=True)
        for line in sys.stdin:
            what = line.strip()
            wall, cpu = time.perf_counter(), time.process_time()
            if what in ("open", "open + correlate"):
                bj._open(conn, bob, large)
            if what in ("correlate", "open + correlate"):
                bj._correlate(conn, bob, large)
            print(f"{(time.perf_counter() - wall) * 1000:.3f} {(time.process_time() - cpu) * 1000:.3f}", flush=True)


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[max(0, int(len(xs) * 0.95) - 1)]


def main() -> None:
    if sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    trees = {"before": str(Path(sys.argv[1]).resolve())}
    trees["after"] = str(Path(sys.argv[2]).resolve()) if len(sys.argv) > 2 else str(Path(__file__).parents[1])
    links = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    tasks = int(sys.argv[4]) if len(sys.argv) > 4 else 1_000
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 30
    procs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, root in trees.items():
            env = dict(os.environ, ACCORD_DATABASE_URL=f"sqlite:///{tmp}/{name}.db", ACCORD_VAR_DIR=f"{tmp}/{name}")
            procs[name] = subprocess.Popen(
                [sys.executable, __file__, "--child", root, str(links), str(tasks)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
        for name, p in procs.items():
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready", name
        times: dict[tuple[str, str], list[tuple[float, float]]] = {(n, a): [] for n in procs for a in ACTIONS}
        for _ in range(rounds):
            for action in ACTIONS:
                for name in random.sample(list(procs), len(procs)):
                    p = procs[name]
                    assert p.stdin is not None
                    assert p.stdout is not None
                    p.stdin.write(action + "\n")
                    p.stdin.flush()
                    wall, cpu = map(float, p.stdout.readline().split())
                    times[(name, action)].append((wall, cpu))
        for p in procs.values():
            assert p.stdin is not None
            p.stdin.close()
            p.wait()
    print(f"\nA partner's analyst, case of {links:,} links and {tasks:,} tasks, SQLite, {rounds} interleaved rounds")
    print(f"{'action':18} {'tree':7} {'wall med':>9} {'wall p95':>9} {'cpu med':>8} {'cpu p95':>8}  (ms)")
    for action in ACTIONS:
        for name in procs:
            walls = [w for w, _ in times[(name, action)]]
            cpus = [c for _, c in times[(name, action)]]
            print(
                f"{action:18} {name:7} {statistics.median(walls):9.1f} {_p95(walls):9.1f}"
                f" {statistics.median(cpus):8.1f} {_p95(cpus):8.1f}"
            )


if __name__ == "__main__":
    main()
