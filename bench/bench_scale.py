"""Scale-out on PostgreSQL: the same mixed load against 1, 2 and 3 `accord serve` processes of one node.

Clients are spread over the processes (as a load balancer would); each process count gets the same number of
clients and seconds. Printed: requests per second, errors and p50/p99 of all requests, and throughput relative to
one process. The processes, the clients and PostgreSQL all share this machine's cores (printed): with 2 cores,
more processes cannot add CPU, only overlap waiting.

Run: ACCORD_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/bench_scale.py
     [--seconds 20] [--clients 24] [--preload 5000] [--processes 1,2,3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from tests.integration.ops.empty_db import pg_database  # noqa: E402

from loadgen import pct, prepared_node, run_load, servers, table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--preload", type=int, default=5000)
    parser.add_argument("--processes", default="1,2,3")
    args = parser.parse_args()
    admin = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
    if not admin:
        print("bench_scale measures PostgreSQL: set ACCORD_BENCH_POSTGRES_URL")
        return 0
    rows, base, errors = [], None, 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        pg_database(admin) as url,
        prepared_node(url, Path(tmp) / "node", args.preload) as (node, ids),
    ):
        for count in (int(n) for n in args.processes.split(",")):
            with servers(node, count, ids) as target:
                run_load(target, count * 2, 3, seed=3)  # warm every process up
                result = run_load(target, args.clients, args.seconds, seed=count)
            everything = [s for values in result.latencies.values() for s in values]
            rate = len(everything) / result.seconds
            base = base or rate
            errors += sum(result.errors.values())
            rows.append(
                [
                    str(count),
                    f"{result.requests:,}",
                    str(sum(result.errors.values())),
                    f"{rate:.1f}",
                    f"{pct(everything, 50) * 1000:.0f}",
                    f"{pct(everything, 99) * 1000:.0f}",
                    f"{rate / base:.2f}x",
                ]
            )
    print(
        f"PostgreSQL, {args.preload:,} objects preloaded, {args.clients} clients for {args.seconds:.0f} s per row, "
        f"{os.cpu_count()} cores shared by servers, clients and PostgreSQL"
    )
    print(table(rows, ["processes", "requests", "errors", "ok/s", "p50 ms", "p99 ms", "vs 1 process"]))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
