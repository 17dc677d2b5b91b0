"""Sustained load: 50 concurrent clients for 60 s against one real `accord serve`, beside the same mix unloaded.

The mix (bench/loadgen.py): TAXII GET pages (following `next`), TAXII POSTs of 100 objects, lookups of 100 values,
REST object reads and correlations. Printed: requests, errors, p50/p99 per kind under load, the p50 of one client
alone (the baseline, measured first in the same run, which also warms the server up) and their ratio; then the
server's resident memory sampled through the run, and whether it stayed flat after the warm-up: whether the heap
of the second half of the rest of the run rose past the first half's highest (bench_memory.py measures growth
per 1,000 objects under POSTs alone, for longer).

Run: python bench/bench_load.py [--seconds 60] [--clients 50] [--preload 5000] [--postgres]
(--postgres uses ACCORD_BENCH_POSTGRES_URL, a server where a database may be created). Exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from tests.integration.ops.empty_db import pg_database  # noqa: E402

from loadgen import KINDS, Results, pct, per_kind_rows, prepared_node, run_load, servers, table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--preload", type=int, default=5000)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--warmup", type=float, default=15, help="seconds of the loaded phase counted as warm-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if args.postgres:
            admin = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
            if not admin:
                print("set ACCORD_BENCH_POSTGRES_URL for --postgres")
                return 2
            database = pg_database(admin)
        else:
            database = _sqlite(home)
        with (
            database as url,
            prepared_node(url, home / "node", args.preload) as (node, ids),
            servers(node, 1, ids) as target,
        ):
            kind = "PostgreSQL" if args.postgres else "SQLite"
            print(f"{kind}, {args.preload:,} objects preloaded, 1 server process, {os.cpu_count()} cores")
            alone = run_load(target, 1, args.baseline_seconds, seed=7, sample_every=1.0)
            loaded = run_load(target, args.clients, args.seconds, seed=11, sample_every=5.0)
    rows = per_kind_rows(loaded)
    for row, kind_name in zip(rows, KINDS, strict=True):
        base = alone.latencies.get(kind_name, [])
        under = loaded.latencies.get(kind_name, [])
        row += [f"{pct(base, 50) * 1000:.0f}" if base else "-"]
        row += [f"{pct(under, 50) / pct(base, 50):.1f}x" if base and under else "-"]
    total_errors = sum(loaded.errors.values())
    print(
        f"\n{args.clients} clients for {loaded.seconds:.0f} s: {loaded.requests:,} requests "
        f"({loaded.requests / loaded.seconds:.0f}/s), {total_errors} errors"
    )
    header = ["kind", "requests", "errors", "p50 ms", "p99 ms", "ok/s", "alone p50 ms", "p50 loaded/alone"]
    print(table(rows, header))
    for example in loaded.error_examples:
        print(f"  error: {example}")
    print("\nserver memory in MB (t = seconds into the loaded phase): heap (anonymous RSS) / file-backed RSS (SQLite's")
    print("memory-mapped pages) of the server process / RSS of its helper processes")
    for start in range(0, len(loaded.rss), 6):
        print("  " + "  ".join(f"t={t:>3.0f}: {a:.0f}/{f:.0f}/{h:.0f}" for t, a, f, h in loaded.rss[start : start + 6]))
    _report_flatness(loaded, args.warmup)
    return 1 if total_errors else 0


FLAT_MB = 2.0  # how far the second half's highest heap may pass the first half's and still count as flat


def _report_flatness(loaded: Results, warmup: float) -> None:
    """The heap after the warm-up: its range, and whether it stayed flat: the highest heap of the second half of
    the samples no more than FLAT_MB above the first half's. (Each sample lands anywhere between two half-minute
    malloc_trims, so single samples swing by megabytes; a new high in the second half is what growth looks like.)"""
    after = [(t, a, h) for t, a, _, h in loaded.rss if t >= warmup]
    if len(after) < 4:
        print(f"  too few memory samples after the warm-up ({len(after)}) to say whether the heap is flat")
        return
    heap = [a for _, a, _ in after]
    print(
        f"  heap after warm-up (t >= {warmup:.0f} s): min {min(heap):.0f}, max {max(heap):.0f}, "
        f"last - first {heap[-1] - heap[0]:+.0f} MB; helpers last - first {after[-1][2] - after[0][2]:+.0f} MB"
    )
    mid = len(heap) // 2
    first, second = heap[:mid], heap[mid:]
    verdict = "flat" if max(second) <= max(first) + FLAT_MB else "GROWING"
    print(
        f"  heap after warm-up, first half: mean {statistics.mean(first):.1f}, max {max(first):.1f} MB; second half: "
        f"mean {statistics.mean(second):.1f}, max {max(second):.1f} MB -> {verdict} "
        f"(flat: the second half's max at most {FLAT_MB:.0f} MB above the first's)"
    )


def _sqlite(home: Path):
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{home / 'load.db'}")


if __name__ == "__main__":
    raise SystemExit(main())
