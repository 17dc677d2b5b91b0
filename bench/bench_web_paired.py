"""The web console's dashboard, value and word searches and report page, before and after a change, interleaved.

Two long-lived processes, each running one source tree (its own `src`), answer in-process through the ASGI app
on the same store of bench_web.py (N objects, built on first use and cached; both only read it). Each round asks
both processes for every request in a random order, so that load on a shared machine falls on both alike; the
table gives the median and p95 of wall and CPU (process) time per request, and the after/before ratio of the
medians.

Run: python bench/bench_web_paired.py BEFORE_TREE [AFTER_TREE [N [ROUNDS]]]
     (e.g. a `git worktree add /tmp/base <commit>` of the code before; AFTER_TREE defaults to this tree)
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_web

WORDS = "/api/v1/search?q=generated&limit=50"
REQUESTS = {
    "dashboard page": ("page", "/", None),
    # the store's newest objects are cases (no values): the dashboard's top values of the newest 300 indicators
    "top values, 300 indicators": ("top", "indicator", None),
    "search page, 100 values": ("page", "/search", "values"),
    "REST lookup, 100 values": ("lookup", "/api/v1/lookup", "values"),
    "report page": ("page", "/reports/{report}", None),
    "REST report correlations": ("rest", "/api/v1/reports/{report}/correlations", None),
    "REST search, word": ("rest", WORDS, None),
    "REST search, word + type": ("rest", WORDS + "&type=indicator", None),
    "REST search, word + TLP": ("rest", WORDS + "&tlp=unmarked", None),
    "REST search, word + type + TLP": ("rest", WORDS + "&type=indicator&tlp=unmarked", None),
    "search page, word + type + TLP": ("page", "/search?text=generated&type=indicator&tlp=unmarked", None),
    "search page, word": ("page", "/search?text=generated", None),
    # a type none of the word's objects has: the whole word is scanned before, a bounded part of it after
    "REST search, word + rare type": ("rest", WORDS + "&type=malware", None),
}


def child(root: str, info_json: str, token: str) -> None:
    """Sign in with the tree at `root`, then time one request (a REQUESTS name) per line read from stdin."""
    sys.path[:0] = [f"{root}/src"]
    from fastapi.testclient import TestClient

    import accord
    from accord.api.app import create_app

    assert accord.__file__.startswith(root), accord.__file__
    info = orjson.loads(info_json)
    client = TestClient(create_app())
    page = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/signin", data={"csrf": csrf, "email": bench_web.EMAIL, "password": bench_web.PASSWORD, "next": "/"})
    api = {"authorization": f"Bearer {token}"}

    def _top_values(kind: str) -> Any:
        from types import SimpleNamespace

        from accord.accounts.authentication import principal_for_email
        from accord.core.db import get_engine, read_transaction
        from accord.correlate.service import top_values
        from accord.store.queries import list_latest
        from accord.web.dashboard import CANDIDATES

        with read_transaction(get_engine()) as conn:
            principal = principal_for_email(conn, bench_web.EMAIL)
            recent = [raw for _, raw in list_latest(conn, principal, types=[kind], limit=CANDIDATES)]
            top_values(conn, principal, recent)
        return SimpleNamespace(status_code=200)

    def call(name: str) -> Any:
        how, path, values = REQUESTS[name]
        path = path.format(report=info["report"])
        if how == "lookup":
            return client.post(path, json={"values": info["values"]}, headers=api)
        if how == "rest":
            return client.get(path, headers=api)
        if how == "top":
            return _top_values(path)
        return client.get(path, params={"q": "\n".join(info["values"])} if values else None)

    for name in REQUESTS:  # warm
        assert call(name).status_code == 200, name
    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        wall, cpu = time.perf_counter(), time.process_time()
        response = call(name)
        spent = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
        assert response.status_code == 200, (name, response.text[:300])
        print(f"{spent[0]:.3f} {spent[1]:.3f}", flush=True)


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[max(0, int(len(xs) * 0.95) - 1)]


def main() -> None:
    if sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    trees = {"before": str(Path(sys.argv[1]).resolve())}
    trees["after"] = str(Path(sys.argv[2]).resolve()) if len(sys.argv) > 2 else str(Path(__file__).parents[1])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    base = Path(os.environ.get("ACCORD_BENCH_WEB_DIR") or bench_web.ROOT / "var" / "bench-web")
    if (base / str(n) / "meta.json").exists():  # both trees only read it: no `accord init` of either
        home, info = base / str(n), orjson.loads((base / str(n) / "meta.json").read_bytes())
    else:
        home, info = bench_web.store(n)
    env = bench_web._env(home)
    token = bench_web._cli(env, "token", "create", bench_web.EMAIL).strip().splitlines()[-1]
    procs = {}
    for name, root in trees.items():
        procs[name] = subprocess.Popen(
            [sys.executable, __file__, "--child", root, orjson.dumps(info).decode(), token],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**env, "PYTHONPATH": f"{root}/src"},
        )
    for name, p in procs.items():
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", name
    times: dict[tuple[str, str], list[tuple[float, float]]] = {(t, r): [] for t in procs for r in REQUESTS}
    for _ in range(rounds):
        for request in REQUESTS:
            for name in random.sample(list(procs), len(procs)):
                p = procs[name]
                assert p.stdin is not None
                assert p.stdout is not None
                p.stdin.write(request + "\n")
                p.stdin.flush()
                wall, cpu = map(float, p.stdout.readline().split())
                times[(name, request)].append((wall, cpu))
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    print(f"\nWeb console and search on {n:,} objects (SQLite, bench_web.py's store), {rounds} interleaved rounds")
    print(f"{'request':32} {'tree':7} {'wall med':>9} {'wall p95':>9} {'cpu med':>8} {'cpu p95':>8}  (ms)")
    for request in REQUESTS:
        med: dict[str, tuple[float, float]] = {}
        for name in procs:
            walls = [w for w, _ in times[(name, request)]]
            cpus = [c for _, c in times[(name, request)]]
            med[name] = (statistics.median(walls), statistics.median(cpus))
            print(f"{request:32} {name:7} {med[name][0]:9.1f} {_p95(walls):9.1f} {med[name][1]:8.1f} {_p95(cpus):8.1f}")
        ratio = [a / b if b else float("nan") for a, b in zip(med["after"], med["before"], strict=True)]
        print(f"{'':32} {'ratio':7} {ratio[0]:9.2f} {'':9} {ratio[1]:8.2f}")


if __name__ == "__main__":
    main()
