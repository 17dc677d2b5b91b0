"""The server's memory under sustained TAXII POSTs, and around one very large envelope (issue 23).

Two modes, each against real `accord serve` processes on loopback, one per source tree given with --src (default:
this checkout); give two (`--src /tmp/base/src --src src`) to pair the code before and after a change in one run,
their rounds interleaved so that both see the same machine:

  posts     N warm-up POSTs of 100 new indicators, then M more in --rounds rounds, from --clients concurrent
            clients (overlapping requests, as under load): the server's heap (anonymous RSS) after the warm-up and
            after each round; its growth per 1,000 objects posted over the whole run and in its first and second
            halves (least-squares slopes through the readings, which the half-minute malloc_trim makes noisy); a
            verdict, "flat" when the second half grew less than FLAT_KB per 1,000 objects; and the server's CPU
            time per 1,000 objects (its process and helpers, user + system) and the median over rounds of its ratio
            to the first tree's in the same round, which pairs the trees' throughput.
  envelope  one envelope of about --mb MB (new indicators, so queued as a job and stored by the server's own job
            runner): the heap before, at its peak while the envelope is stored, once its status is complete, and
            after --settle seconds idle.

Memory is read from /proc (Linux): RssAnon of the server process (its helper processes are reported apart).
Run: python bench/bench_memory.py posts|envelope [--src DIR ...] [--postgres] [--warmup 50] [--posts 1000]
     [--rounds 10] [--clients 8] [--mb 50]
(--postgres uses ACCORD_BENCH_POSTGRES_URL, a server where a database may be created).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path

import httpx
import orjson

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from tests.e2e.nodes import MEDIA, free_port  # noqa: E402
from tests.e2e.procs import kill_group, start_server  # noqa: E402
from tests.integration.ops.empty_db import pg_database  # noqa: E402

from loadgen import _indicator, prepared_node, rss_mb  # noqa: E402

FLAT_KB = 20.0  # heap growth per 1,000 objects below which the second half counts as flat (2 MB per 100,000)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (Linux)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return total / os.sysconf("SC_CLK_TCK")


def slope_kb(points: list[tuple[float, float]]) -> float:
    """Least-squares growth in KB per 1,000 objects through (objects, heap MB) readings."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var * 1024 * 1000 if var else float("nan")


class Server:
    """One `accord serve` of a fresh node, running the code of one source tree."""

    def __init__(self, stack: ExitStack, src: str, home: Path, postgres: bool, preload: int) -> None:
        if postgres:
            url = stack.enter_context(pg_database(os.environ["ACCORD_BENCH_POSTGRES_URL"]))
        else:
            url = stack.enter_context(nullcontext(f"sqlite:///{home / 'memory.db'}"))
        node, _ = stack.enter_context(prepared_node(url, home / "node", preload))
        # before the installed (editable) accord
        node.node.env["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
        port = free_port()
        proc = start_server(node.node, port)
        stack.callback(kill_group, proc)
        node.node.port = port
        self.pid = proc.pid
        self.src = src
        cid = node.node.collection_id("intel", node.token)
        self.url = f"http://127.0.0.1:{port}/taxii2/api/collections/{cid}/objects/"
        self.status_url = f"http://127.0.0.1:{port}/taxii2/api/status/"
        headers = {"Authorization": f"Bearer {node.token}", "Accept": MEDIA, "Content-Type": MEDIA}
        self.http = stack.enter_context(httpx.Client(headers=headers, timeout=600))
        self.counter = 0
        self.cpu: list[float] = []  # CPU seconds spent serving each call of post()

    def heap(self) -> float:
        return rss_mb(self.pid)[0]

    def post(self, count: int, clients: int = 1) -> None:
        """`count` POSTs of 100 new objects, from `clients` concurrent clients."""
        lock = threading.Lock()
        left = [count]
        errors: list[str] = []

        def client() -> None:
            with httpx.Client(headers=self.http.headers, timeout=600) as h:
                while True:
                    with lock:
                        if left[0] <= 0 or errors:
                            return
                        left[0] -= 1
                        start = self.counter
                        self.counter += 100
                    objects = [_indicator(start + i) for i in range(100)]
                    r = h.post(self.url, content=orjson.dumps({"objects": objects}))
                    if r.status_code != 202 or r.json()["status"] != "complete":
                        errors.append(r.text[:300])

        threads = [threading.Thread(target=client) for _ in range(clients)]
        cpu = _cpu_s(self.pid)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.cpu.append(_cpu_s(self.pid) - cpu)
        assert not errors, errors[0]

    def post_envelope(self, body: bytes) -> float:
        """POST one large envelope and wait until it is stored; the highest heap seen meanwhile."""
        peak = [self.heap()]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], self.heap())
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            r = self.http.post(self.url, content=body)
            assert r.status_code == 202, r.text[:300]
            status = r.json()
            while status["status"] != "complete":
                time.sleep(0.5)
                status = self.http.get(f"{self.status_url}{status['id']}/").json()
            assert status["failure_count"] == 0, str(status)[:300]
        finally:
            done.set()
            sampler.join()
        return peak[0]


def _envelope(mb: float) -> bytes:
    objects = []
    size = 0
    i = 10_000_000
    while size < mb * 1_000_000:
        obj = _indicator(i)
        obj["description"] = "x" * 800  # about 1 KB an object, like a described indicator
        objects.append(obj)
        size += len(orjson.dumps(obj)) + 1
        i += 1
    return orjson.dumps({"objects": objects})


def _report_posts(servers: list[Server], readings: list[list[float]], per_round: int) -> None:
    """The heap readings of each server, its growth per 1,000 objects overall and by half, and its CPU."""
    print(f"{'source':<32} {'heap MB: after warm-up, then after each round':<60} CPU s/1k  CPU / first's")
    for s, heap in zip(servers, readings, strict=True):
        cpu = sum(s.cpu) / (per_round * len(s.cpu) / 1000)
        ratio = statistics.median(mine / first for mine, first in zip(s.cpu, servers[0].cpu, strict=True))
        print(f"{s.src[-32:]:<32} {' '.join(f'{r:.0f}' for r in heap):<60} {cpu:>8.3f}  {ratio:>12.3f}")
    print(f"\n{'source':<32} {'KB / 1,000 objects:':>20} {'whole':>7} {'1st half':>9} {'2nd half':>9}  after warm-up")
    for s, heap in zip(servers, readings, strict=True):
        points = [(i * per_round, r) for i, r in enumerate(heap)]
        mid = len(points) // 2
        whole, first, second = slope_kb(points), slope_kb(points[: mid + 1]), slope_kb(points[mid:])
        verdict = "flat" if second < FLAT_KB else f"growing (>= {FLAT_KB:.0f} KB per 1,000 objects)"
        print(f"{s.src[-32:]:<32} {'':>20} {whole:>7.1f} {first:>9.1f} {second:>9.1f}  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["posts", "envelope"])
    parser.add_argument("--src", action="append", help="a source tree (its src/ folder) to run the server from")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--warmup", type=int, default=50, help="POSTs of 100 objects before the first reading")
    parser.add_argument("--preload", type=int, default=100, help="indicators imported before the server starts")
    parser.add_argument("--posts", type=int, default=1000, help="POSTs of 100 objects after the warm-up")
    parser.add_argument("--rounds", type=int, default=10, help="readings after the warm-up (posts mode)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent POSTing clients (posts mode)")
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--settle", type=float, default=10)
    args = parser.parse_args()
    if args.postgres and not os.environ.get("ACCORD_BENCH_POSTGRES_URL"):
        print("set ACCORD_BENCH_POSTGRES_URL for --postgres")
        return 2
    sources = [str(Path(s).resolve()) for s in (args.src or [str(HERE.parent / "src")])]
    kind = "PostgreSQL" if args.postgres else "SQLite"
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        servers = [
            Server(stack, src, Path(tmp) / f"s{n}", args.postgres, args.preload) for n, src in enumerate(sources)
        ]
        if args.mode == "posts":
            print(f"{kind}: heap (anonymous RSS, MB) of each server; {args.warmup} warm-up POSTs of 100 objects,")
            print(f"then {args.posts} more in {args.rounds} rounds, the servers taking turns within each round;")
            print(f"{args.clients} concurrent clients")
            for s in servers:
                s.post(args.warmup, args.clients)
                s.cpu.clear()
            readings: list[list[float]] = [[s.heap()] for s in servers]
            per_round = max(1, args.posts // args.rounds)
            for _ in range(args.rounds):
                for n, s in enumerate(servers):
                    s.post(per_round, args.clients)
                    readings[n].append(s.heap())
            _report_posts(servers, readings, per_round * 100)
        else:
            body = _envelope(args.mb)
            print(f"{kind}: one envelope of {len(body) / 1e6:.1f} MB ({body.count(b'indicator--'):,} objects)")
            print(f"{'source':<40} {'before':>7} {'peak':>7} {'stored':>7} {'idle':>7}  heap MB (anonymous RSS)")
            for s in servers:
                s.post(5)
                before = s.heap()
                peak = s.post_envelope(body)
                stored = s.heap()
                time.sleep(args.settle)
                idle = s.heap()
                print(f"{s.src[-40:]:<40} {before:>7.0f} {peak:>7.0f} {stored:>7.0f} {idle:>7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
