"""Run every benchmark in bench/ and print their tables one after another (`make bench`).

Set ACCORD_BENCH_POSTGRES_URL to also measure on PostgreSQL, and ACCORD_BENCH_QUICK=1 for smaller sizes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = os.environ.get("ACCORD_BENCH_QUICK") == "1"

BENCHES = [
    ("bench_import.py", ["20000"] if QUICK else ["100000"]),
    ("bench_policy.py", ["100000"] if QUICK else ["1000000"]),
    ("bench_taxii.py", ["--quick"] if QUICK else []),
    ("bench_correlate.py", ["--size", "100000"] if QUICK else []),
    ("bench_extract.py", []),
    ("bench_extract_startup.py", ["--runs", "5"] if QUICK else []),
    ("bench_live.py", ["50"] if QUICK else ["200"]),
    ("bench_signing.py", ["10"] if QUICK else []),
    ("bench_federation.py", ["20000"] if QUICK else ["100000"]),
    ("bench_fuzz_api.py", ["1000"] if QUICK else ["10000"]),
    ("bench_load.py", ["--seconds", "20", "--clients", "20"] if QUICK else []),
    ("bench_scale.py", ["--seconds", "10"] if QUICK else []),
    ("bench_exports.py", ["100000"] if QUICK else ["1000000"]),
    ("bench_joint.py", ["2000", "200"] if QUICK else []),
    ("bench_web.py", ["20000"] if QUICK else ["100000"]),
    ("bench_search.py", ["20000"] if QUICK else ["100000"]),
    ("bench_pir.py", ["5000"] if QUICK else []),
]


def main() -> int:
    failed = 0
    for script, args in BENCHES:
        path = HERE / script
        if not path.exists():
            continue
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        code = subprocess.call([sys.executable, str(path), *args])
        if code:
            print(f"{script} exited with {code}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
