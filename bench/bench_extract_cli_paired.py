"""`accord extract --format json` end to end against another source tree (a base commit): the whole process's CPU
time and, inside it, the engine's, on bench_extract.py's sparse and dense texts and a 20-byte file.

Run: python bench/bench_extract_cli_paired.py --base /tmp/base-worktree [--rounds 5]
(from the repository root; the base is a checkout of another commit, e.g. `git worktree add /tmp/base <commit>`)

Each round runs one `accord extract` process per tree and text, the trees in alternating order, so that both see
the same machine load; each tree has its own var/ folder (its caches are built in an untimed first run). A run's
CPU time is its process's (user + system, all threads, from process start to exit); the engine's share is
extract()'s CPU time inside it, so "CLI minus engine" is what the command adds around the engine: start-up,
document reading, warninglists, JSON. The table gives medians over the rounds, the ratios of the base to this
tree (above 1: this tree is faster), and whether the two trees wrote byte-identical output.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_extract import _load_corpus, _names, build_dense_text, build_text  # noqa: E402

# One `accord extract` process with extract() timed: argv = document, output file.
_CHILD = """
import os, sys, time
import accord.extract.service as service
inner, spent = service.extract, [0.0]
def timed(*args, **kwargs):
    started = time.process_time()
    try:
        return inner(*args, **kwargs)
    finally:
        spent[0] += time.process_time() - started
service.extract = timed
import atexit
atexit.register(lambda: os.write(2, f"ENGINE {spent[0]}\\n".encode()))
sys.argv = ["accord", "extract", "--format", "json", sys.argv[1], "-o", sys.argv[2]]
from accord.cli.main import run
run()
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(tree: Path, var: Path, document: Path, output: Path) -> tuple[float, float, str]:
    """(process CPU, engine CPU, output digest) of one run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env |= {"PYTHONPATH": str(tree / "src"), "ACCORD_VAR_DIR": str(var)}
    before = _children_cpu()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(document), str(output)], env=env, capture_output=True, text=True, check=False
    )
    used = _children_cpu() - before
    if done.returncode:
        raise SystemExit(f"accord extract failed in {tree}: {done.stderr[-500:]}")
    engine = next(float(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("ENGINE "))
    return used, engine, hashlib.sha256(output.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="source tree of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    passages = _load_corpus()
    texts = {
        "dense": build_dense_text([p["text"] for p in passages], _names(passages)),
        "sparse": build_text([p["text"] for p in passages]),
        "20 bytes": "hxxp://evil[.]com/a\n",
    }
    trees = {"base": args.base.resolve(), "this": ROOT}
    runs: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    with tempfile.TemporaryDirectory(prefix="accord-cli-paired-") as tmp:
        work = Path(tmp)
        documents = {}
        for number, (case, text) in enumerate(texts.items()):
            documents[case] = work / f"text{number}.txt"
            documents[case].write_text(text, "utf-8")
        for name, tree in trees.items():  # untimed: var/ caches built, files in the page cache
            _run(tree, work / f"var-{name}", documents["20 bytes"], work / "out.json")
        for i in range(args.rounds):
            for case, document in documents.items():
                for name in list(trees) if i % 2 == 0 else list(reversed(trees)):
                    result = _run(trees[name], work / f"var-{name}", document, work / f"out-{name}.json")
                    runs.setdefault((case, name), []).append(result)
    print(f"`accord extract --format json` CPU seconds (user + system), medians of {args.rounds} interleaved rounds")
    print(f"{'text':<9}{'tree':<6}{'CLI':>8}{'engine':>8}{'CLI - engine':>14}{'MB/s CPU':>10}")
    for case, text in texts.items():
        mb = len(text.encode("utf-8")) / 1e6
        medians = {}
        for name in trees:
            done = runs[(case, name)]
            cli = statistics.median(r[0] for r in done)
            engine = statistics.median(r[1] for r in done)
            rest = statistics.median(r[0] - r[1] for r in done)
            medians[name] = (cli, engine, rest)
            print(f"{case:<9}{name:<6}{cli:>8.3f}{engine:>8.3f}{rest:>14.3f}{mb / cli:>10.2f}")
        base, this = medians["base"], medians["this"]
        same = len({r[2] for name in trees for r in runs[(case, name)]}) == 1
        print(
            f"{case:<9}ratio {base[0] / this[0]:>7.2f}x{base[1] / this[1]:>7.2f}x{base[2] / this[2]:>13.2f}x"
            f"  (base / this); output byte-identical: {'yes' if same else 'NO'}"
        )


if __name__ == "__main__":
    main()
