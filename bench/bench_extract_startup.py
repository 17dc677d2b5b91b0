"""Start-up of `accord extract` on a 20-byte file, against the interpreter and ioc-finder on the same file.

Run: python bench/bench_extract_startup.py [--runs 10] [--compare OTHER_ACCORD]

Each row is a separate process, timed from spawn to exit. The rows run in turns (one of each per round), so a
busy machine slows them alike and the ratios stay fair. `first run` is `accord extract` with an empty var/
folder (nothing cached yet: the warninglist and galaxy matchers are built and written); the other figures are
with the cache in place, as every later call finds it. `--compare` adds the same rows for another `accord`
executable (for instance one installed from the base commit), with its own var/ folder, in the same turns;
both must print the same findings. `cpu` is the median CPU time (user + system) of each process, steadier than
wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

IOC_FINDER = "import sys; from ioc_finder import find_iocs; find_iocs(open(sys.argv[1]).read())"
SMALL = b"hxxp://evil[.]com/a\n"  # 20 bytes: a defanged URL, its host and a file name
ROUNDS = 10


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, bytes, float]:
    """Wall time, standard output and CPU time (user + system) of one run."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed, done.stdout, _children_cpu() - cpu


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=ROUNDS, help="timed rounds (default %(default)s)")
    parser.add_argument("--compare", type=Path, help="another accord executable, timed in the same rounds")
    args = parser.parse_args()
    accord = Path(sys.executable).with_name("accord")
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="accord-startup-") as tmp:
        work = Path(tmp)
        (work / "small.txt").write_bytes(SMALL)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
        subjects = [("accord extract", accord)]
        if args.compare is not None:
            subjects.append(("compared extract", args.compare.resolve()))
        rows: list[tuple[str, list[str], dict[str, str]]] = [
            ("python -c pass", [python, "-c", "pass"], base_env),
            (
                "ioc-finder (import + find_iocs)",
                [python, "-c", IOC_FINDER, "small.txt"],
                base_env,
            ),
            ("accord --help", [str(accord), "--help"], base_env),
        ]
        first: dict[str, float] = {}
        outputs: dict[str, bytes] = {}
        for index, (name, exe) in enumerate(subjects):
            env = {**base_env, "ACCORD_VAR_DIR": str(work / f"var{index}"), "COLUMNS": "120"}
            argv = [str(exe), "extract", "--format", "json", "small.txt"]
            first[name], outputs[name], _ = _time(argv, work, env)  # empty var/: the caches are built here
            rows.append((name, argv, env))
        if len(set(outputs.values())) > 1:
            raise SystemExit("the compared executables print different findings")
        times: dict[str, list[float]] = {name: [] for name, _, _ in rows}
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in rows}
        for _name, argv, env in rows:  # one untimed run each: page cache and bytecode in place for all
            _time(argv, work, env)
        for _ in range(args.runs):
            for name, argv, env in rows:
                elapsed, _, used = _time(argv, work, env)
                times[name].append(elapsed)
                cpu[name].append(used)
    base = statistics.median(times["python -c pass"])
    peer = statistics.median(times["ioc-finder (import + find_iocs)"])
    print(f"`accord extract` on a {len(SMALL)}-byte file, {args.runs} rounds (seconds; ratios of the medians)")
    # CPU time (user + system) is what the process itself costs; on a busy machine wall time also holds the
    # time spent waiting for a core, so the CPU columns are the steadier comparison.
    print(f"{'command':32} {'first run':>9} {'median':>8} {'p90':>8} {'x python':>9} {'x ioc-finder':>12} {'cpu':>7}")
    cpu_peer = statistics.median(cpu["ioc-finder (import + find_iocs)"])
    for name, _, _ in rows:
        median, used = statistics.median(times[name]), statistics.median(cpu[name])
        cold = f"{first[name]:9.3f}" if name in first else f"{'':9}"
        print(
            f"{name:32} {cold} {median:8.3f} {_p90(times[name]):8.3f} {median / base:9.1f} {median / peer:12.2f}"
            f" {used:7.3f}  (x ioc-finder {used / cpu_peer:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
