"""The extraction engine against another source tree (a base commit), on bench_extract.py's sparse and dense texts.

Run: python bench/bench_extract_paired.py --base /tmp/base-worktree [--rounds 5]
(from the repository root; the base is a checkout of another commit, e.g. `git worktree add /tmp/base <commit>`)

Each round starts one process per tree, in alternating order, so that both see the same machine load. A process
imports its tree's engine, extracts a warm-up sentence, then times extract() on each text by its CPU time (all
threads): the first run, with the engine's per-value caches cold (what a new report meets), and the best of the
warm runs after it. The table gives medians over the rounds, the ratio of this tree to the base, and whether the
two trees' findings on each text are identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_extract import _load_corpus, _names, build_dense_text, build_text  # noqa: E402

# Run in a child process with PYTHONPATH set to one tree's src: argv = texts file, warm runs.
_CHILD = """
import hashlib, json, sys, time
from accord.extract import extract
texts = json.loads(open(sys.argv[1], encoding="utf-8").read())
extract("warm up: evil-site.com 185.220.101.47 CVE-2021-44228")
out = {}
for case, text in texts.items():
    cpu = []
    for _ in range(1 + int(sys.argv[2])):
        started = time.process_time()
        found = extract(text)
        cpu.append(time.process_time() - started)
    digest = hashlib.sha256(repr([tuple(f) for f in found]).encode()).hexdigest()
    out[case] = {"first": cpu[0], "warm": min(cpu[1:]), "findings": len(found), "digest": digest}
print(json.dumps(out))
"""


Result = dict[str, dict[str, Any]]  # per text: first, warm, findings, digest


def _run(tree: Path, texts_file: Path, warm_runs: int) -> Result:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(texts_file), str(warm_runs)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: Result = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="source tree of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm-runs", type=int, default=2)
    args = parser.parse_args()
    passages = _load_corpus()
    texts = {
        "sparse": build_text([p["text"] for p in passages]),
        "dense": build_dense_text([p["text"] for p in passages], _names(passages)),
    }
    trees = {"base": args.base.resolve(), "this": ROOT}
    results: dict[str, list[Result]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts), "utf-8")
        for i in range(args.rounds):
            order = list(trees) if i % 2 == 0 else list(reversed(trees))
            for name in order:
                results[name].append(_run(trees[name], texts_file, args.warm_runs))
    print(f"Engine CPU time, medians of {args.rounds} interleaved rounds (MB/s = size / CPU seconds)")
    print(f"{'text':<8}{'tree':<6}{'first s':>9}{'warm s':>9}{'MB/s 1st':>10}{'MB/s warm':>11}  findings")
    for case, text in texts.items():
        mb = len(text.encode("utf-8")) / 1e6
        medians = {}
        for name in trees:
            first = statistics.median(r[case]["first"] for r in results[name])
            warm = statistics.median(r[case]["warm"] for r in results[name])
            medians[name] = (first, warm)
            found = results[name][0][case]["findings"]
            print(f"{case:<8}{name:<6}{first:>9.3f}{warm:>9.3f}{mb / first:>10.2f}{mb / warm:>11.2f}  {found}")
        same = {r[case]["digest"] for rs in results.values() for r in rs}
        (base_first, base_warm), (this_first, this_warm) = medians["base"], medians["this"]
        print(
            f"{case:<8}ratio {base_first / this_first:>8.2f}x{base_warm / this_warm:>8.2f}x"
            f"  (this tree's speed / the base's); findings identical: {'yes' if len(same) == 1 else 'NO'}"
        )


if __name__ == "__main__":
    main()
