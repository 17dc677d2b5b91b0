"""Live propagation latency: a publication on node A until node B (a `--live` pull) holds it, p50 and p99 over
200 publications, beside the same publication fetched by an immediate `accord sync` on B (the baseline).

Two real `accord serve` processes on loopback, each with its own SQLite database. Latency is measured from the
moment A's TAXII POST answered (the object is committed on A) to the moment B's database holds it (polled every
2 ms through a read-only SQLite connection).

Run: python bench/bench_live.py [PUBLICATIONS]
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.nodes import indicator, make_node  # noqa: E402


def _held(db: Path, oid: str, deadline: float) -> float | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        while time.perf_counter() < deadline:
            if con.execute("SELECT 1 FROM stix_object WHERE id = ?", (oid,)).fetchone():
                return time.perf_counter()
            time.sleep(0.002)
    finally:
        con.close()
    return None


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        a, b = make_node(root, "A", "Alpha"), make_node(root, "B", "Beta")
        try:
            a.cli("org", "create", "Beta")
            alice = a.user("alice@alpha.example", "Alpha", "analyst")
            sync = a.user("sync@beta.example", "Beta", "sync")
            a.cli(
                "collection",
                "create",
                "Intel",
                "--alias",
                "intel",
                "--read",
                "Alpha",
                "--read",
                "Beta",
                "--write",
                "Alpha",
            )
            b.cli("collection", "create", "From A", "--alias", "from-a", "--read", "Beta", "--write", "Beta")
            a.start()
            b.start()
            remote = a.collection_id("intel", alice)
            b.add_peer("A", a, "Beta", sync)
            db = Path(b.env["ACCORD_DATABASE_URL"].removeprefix("sqlite:///"))

            # Baseline: publish, then an immediate `accord sync A` on B (a CLI process, as a cron job would).
            b.cli("peer", "pull", "A", "--remote", remote, "--into", "from-a")
            b.cli("sync", "A")
            baseline = []
            for i in range(min(n, 20)):
                obj = indicator(f"bench sync {i}", "green")
                a.post(alice, "intel", [obj])
                t0 = time.perf_counter()
                b.cli("sync", "A")
                seen = _held(db, obj["id"], time.perf_counter() + 30)
                assert seen is not None
                baseline.append(seen - t0)

            # Live: the same subscription followed through A's stream.
            b.cli("peer", "pull", "A", "--remote", remote, "--into", "from-a", "--live")
            time.sleep(2.0)  # B's runner starts its follower within a second
            latencies, missed = [], 0
            for i in range(n):
                obj = indicator(f"bench live {i}", "green")
                a.post(alice, "intel", [obj])
                t0 = time.perf_counter()
                seen = _held(db, obj["id"], t0 + 10)
                if seen is None:
                    missed += 1
                else:
                    latencies.append(seen - t0)
        finally:
            a.stop()
            b.stop()
    rows = [
        ("accord sync right after", len(baseline), baseline),
        ("--live (stream doorbell)", len(latencies), latencies),
    ]
    print(f"{'path':<28} {'pubs':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, count, values in rows:
        print(
            f"{name:<28} {count:>5} {_pct(values, 50) * 1000:>8.0f} {_pct(values, 99) * 1000:>8.0f} "
            f"{max(values) * 1000:>8.0f}"
        )
    print(f"live p50 / sync p50 = {statistics.median(latencies) / statistics.median(baseline):.2f}; missed {missed}")
    print("target (issue 19): live p99 < 500 ms")


if __name__ == "__main__":
    main()
