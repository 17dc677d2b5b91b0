"""Search speed: the console's search and GET /api/v1/search beside the REST calls they stand next to.

A node (SQLite) with the demo community plus N mixed objects (default 100,000; datagen.mixed, whose indicators
are named "Generated indicator I") imported through `accord import` (which fills the word index). In-process
through the ASGI app, in interleaved rounds, CPU time (time.process_time, the app runs in this process) per
request, median and p95 of RUNS rounds:
- the search page with 100 values beside POST /api/v1/lookup of the same values (the page uses the lookup);
- a common word (most objects hold it) and a rare one (one object), beside GET /api/v1/objects (a page of 50);
- the search page with words and a filter beside GET /api/v1/search with the same.

Run: python bench/bench_search.py [N]
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import bundle, mixed

ROOT = Path(__file__).resolve().parent.parent
ACCORD = str(ROOT / ".venv" / "bin" / "accord")
RUNS = 30
EMAIL = "alice@alpha.example"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([ACCORD, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"accord {' '.join(args)}: {done.stderr}")
    return done.stdout


def _rounds(calls: dict[str, Any]) -> dict[str, list[float]]:
    """CPU ms of each call, RUNS interleaved rounds (one warm-up)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for n in range(RUNS + 1):
        for name, call in calls.items():
            t0 = time.process_time()
            response = call()
            spent = (time.process_time() - t0) * 1000
            assert response.status_code == 200, (name, response.text[:300])
            if n:
                samples[name].append(spent)
    return samples


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
        env.update(ACCORD_DATABASE_URL=f"sqlite:///{home / 'accord.db'}", ACCORD_VAR_DIR=str(home / "var"),
                   ACCORD_FEED_SCHEDULE_SECONDS="0")  # fmt: skip
        _cli(env, "init")
        _cli(env, "demo")
        objects = mixed(n)
        (home / "mixed.json").write_bytes(orjson.dumps(bundle(objects)))
        _cli(env, "import", str(home / "mixed.json"), "--collection", "shared", "--as", EMAIL)
        values = []
        for o in objects:
            found = re.search(r"value = '([^']+)'", o.get("pattern", "") if isinstance(o.get("pattern"), str) else "")
            if found:
                values.append(found.group(1))
            if len(values) == 100:
                break
        rare = next(o["name"].rsplit(" ", 1)[1] for o in reversed(objects) if o.get("type") == "indicator")
        os.environ.update(env)
        from fastapi.testclient import TestClient

        from accord.api.app import create_app

        client = TestClient(create_app())
        page = client.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/signin", data={"csrf": csrf, "email": EMAIL, "password": "accord-demo", "next": "/"})
        token = _cli(env, "token", "create", EMAIL).strip().splitlines()[-1]
        api = {"authorization": f"Bearer {token}"}
        query = "\n".join(values)
        calls = {
            "search page, 100 values": lambda: client.get("/search", params={"q": query}),
            "  REST: lookup of the 100 values": lambda: client.post("/api/v1/lookup", json={"values": values}, headers=api),  # noqa: E501
            "REST search, common word (50)": lambda: client.get("/api/v1/search?q=generated&limit=50", headers=api),
            f"REST search, rare word ({rare})": lambda: client.get(f"/api/v1/search?q={rare}&limit=50", headers=api),
            "REST search, prefix gener* (50)": lambda: client.get("/api/v1/search?q=gener*&limit=50", headers=api),
            "  REST: newest 50 objects": lambda: client.get("/api/v1/objects?limit=50", headers=api),
            "search page, word + type + TLP": lambda: client.get("/search?text=generated&type=indicator&tlp=unmarked"),
            "  REST search, the same": lambda: client.get("/api/v1/search?q=generated&type=indicator&tlp=unmarked&limit=50", headers=api),  # noqa: E501
        }  # fmt: skip
        samples = _rounds(calls)
    print(f"\nSearch on {n:,} imported objects (SQLite), CPU ms per request, {RUNS} interleaved rounds")
    print(f"{'request':<44} {'median':>8} {'p95':>8}")
    for name, got in samples.items():
        ordered = sorted(got)
        print(f"{name:<44} {statistics.median(ordered):>8.1f} {ordered[max(0, int(len(ordered) * 0.95) - 1)]:>8.1f}")
    page_ms = statistics.median(samples["search page, 100 values"])
    rest_ms = statistics.median(samples["  REST: lookup of the 100 values"])
    print(f"search page of 100 values / REST lookup of them: {page_ms / rest_ms:.2f}x (CPU, medians)")


if __name__ == "__main__":
    main()
