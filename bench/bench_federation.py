"""Federation throughput between real nodes on loopback (SQLite): a pull and a push of N mixed objects, beside a
node's own `accord import` of the same bundle, measured in the same run.

A holds the objects (imported into "intel", which Beta may read). Three fresh nodes of Beta then each take them
in once: one imports the bundle file, one pulls A's collection (`accord sync A` on it), and one is pushed to by A
(a push subscription on A; `accord sync B` on A; it has a sync account for Alpha). Each receiver starts empty, so
the three rows store the same versions. Target: pull and push each at least half the import rate.

Run: python bench/bench_federation.py [N]   (default 100,000; run_all.py passes 20,000 when ACCORD_BENCH_QUICK=1)
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the e2e harness's nodes
from tests.e2e.nodes import Node, make_node

from datagen import bundle, cpu_probe, mixed


def timed(node: Node, *args: str, **env: str) -> tuple[float, str]:
    """Seconds an `accord` command of this node takes, and its first line of output."""
    t0 = time.perf_counter()
    done = node.cli(*args, **env)
    return time.perf_counter() - t0, (done.stdout.strip().splitlines() or [""])[0]


def receiver(root: Path, name: str) -> Node:
    """A fresh node of Beta with a collection "in" it writes, and a sync account of Alpha's record that may too."""
    node = make_node(root, name, "Beta")
    node.cli("org", "create", "Alpha node")
    node.user(f"sync@alpha.{name.lower()}.example", "Alpha node", "sync")
    node.user(f"bob@{name.lower()}.example", "Beta", "analyst")
    writers = ("--write", "Beta", "--write", "Alpha node")
    node.cli("collection", "create", "In", "--alias", "in", "--read", "Beta", *writers)
    return node


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "bundle.json"
        path.write_bytes(orjson.dumps(bundle(mixed(n))))
        probe = cpu_probe()
        a = make_node(root, "A", "Alpha")
        a.cli("org", "create", "Beta")
        a.user("alice@alpha.example", "Alpha", "analyst")
        beta_on_a = a.user("sync@beta.example", "Beta", "sync")
        readers = ("--read", "Alpha", "--read", "Beta")
        a.cli("collection", "create", "Intel", "--alias", "intel", *readers, "--write", "Alpha")
        a.cli("import", str(path), "--collection", "intel", "--as", "alice@alpha.example")
        importer, puller, pushed = receiver(root, "I"), receiver(root, "P"), receiver(root, "Q")
        nodes = [a, puller, pushed]
        try:
            for node in nodes:
                node.start()
            intel = a.collection_id("intel", beta_on_a)
            puller.cli(
                "peer", "add", "A", "--url", a.api_root, "--org", "Beta", "--token-env", "PEER_TOKEN",
                "--allow-private", "--public-key", a.public_key(), "--remote-org", "Alpha node", PEER_TOKEN=beta_on_a,
            )  # fmt: skip
            puller.cli("peer", "pull", "A", "--remote", intel, "--into", "in")
            # Q knows A as a peer (what A pushes arrives over that link, signed); A pushes intel into Q's "in", sending
            # what Beta may read (F1): Q is Beta's node.
            pushed.cli(
                "peer", "add", "A", "--url", a.api_root, "--org", "Beta", "--allow-private",
                "--public-key", a.public_key(), "--remote-org", "Alpha node",
            )  # fmt: skip
            q_admin, alpha_on_q = pushed.tokens["admin@q.example"], pushed.tokens["sync@alpha.q.example"]
            a.cli(
                "peer", "add", "Q", "--url", pushed.api_root, "--org", "Alpha", "--token-env", "PEER_TOKEN",
                "--allow-private", "--public-key", pushed.public_key(), "--remote-org", "Beta", PEER_TOKEN=alpha_on_q,
            )  # fmt: skip
            a.cli("peer", "push", "Q", "--from", "intel", "--remote", pushed.collection_id("in", q_admin))

            rows = []
            secs, line = timed(importer, "import", str(path), "--collection", "in", "--as", "bob@i.example")
            rows.append(("import", n, secs, line))
            secs, line = timed(puller, "sync", "A")
            rows.append(("pull", _count(r"(\d+) new", line), secs, line))
            secs, line = timed(a, "sync", "Q")
            rows.append(("push", _count(r"sent (\d+)", line), secs, line))
        finally:
            for node in nodes:
                node.stop()
    after = cpu_probe()
    base = rows[0][1] / rows[0][2]
    print(f"\nFederation of {n:,} mixed objects (1% invalid, refused by A) between nodes on loopback, SQLite")
    print(f"{'what':8} {'objects':>8} {'seconds':>8} {'objects/s':>10} {'vs import':>9}  result")
    for name, count, secs, line in rows:
        print(f"{name:8} {count:8,} {secs:8.2f} {count / secs:10,.0f} {count / secs / base:9.0%}  {line}")
    print(f"a fixed CPU loop took {probe:.0f} ms before and {after:.0f} ms after (this shared machine's speed drifts)")


def _count(pattern: str, line: str) -> int:
    """The number a sync result line gives ('A pull …: 99000 new, …', 'Q push intel: sent 99000, …')."""
    found = re.search(pattern, line)
    if found is None:
        raise SystemExit(f"unexpected sync output: {line}")
    return int(found.group(1))


if __name__ == "__main__":
    main()
