"""A mixed load against real `accord serve` processes on loopback (bench_load.py, bench_scale.py).

Concurrent asyncio clients (httpx), each looping for a fixed time over: a TAXII GET page (following `next`),
a TAXII POST of 100 new objects, a REST lookup of 100 values, a REST object read and an object's correlations.
Every non-2xx answer or transport error counts as an error. The servers' resident memory (the process and its
children) is sampled while the load runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.nodes import MEDIA, free_port  # noqa: E402
from tests.e2e.procs import ProcNode, kill_group, proc_node, start_server  # noqa: E402

KINDS = ("taxii_page", "taxii_post_100", "lookup_100", "object_read", "correlations")
WEIGHTS = (4, 1, 2, 4, 2)


def _ip(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def _indicator(i: int) -> dict[str, Any]:
    """An indicator on an IP; indicators i and i + 1000 share theirs, so correlations have answers."""
    created = "2026-11-01T00:00:00.000Z"
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": created,
        "name": f"load {i}",
        "pattern": f"[ipv4-addr:value = '{_ip(i % 1000)}']",
        "pattern_type": "stix",
        "valid_from": created,
    }


@dataclass
class Target:
    """A prepared node and the servers that serve it."""

    node: ProcNode
    urls: list[str]
    collection_url: str
    ids: list[str]
    pids: list[int]


@contextmanager
def prepared_node(url: str, home: Path, preload: int) -> Iterator[tuple[ProcNode, list[str]]]:
    """A node on the database at `url` holding `preload` indicators in collection `intel`."""
    with proc_node(url, home) as node:
        objects = [_indicator(i) for i in range(preload)]
        bundle = home / "preload.json"
        bundle.write_bytes(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))
        node.node.cli("import", str(bundle), "--collection", "intel", "--as", "alice@alpha.example")
        yield node, [o["id"] for o in objects]


@contextmanager
def servers(node: ProcNode, count: int, ids: list[str]) -> Iterator[Target]:
    """`count` server processes of the node (the first runs the jobs), stopped afterwards."""
    procs = []
    try:
        for i in range(count):
            port = free_port()
            procs.append((port, start_server(node.node, port, *(() if i == 0 else ("--no-jobs",)))))
        urls = [f"http://127.0.0.1:{port}" for port, _ in procs]
        node.node.port = procs[0][0]
        cid = node.node.collection_id("intel", node.token)
        yield Target(node, urls, f"/taxii2/api/collections/{cid}/objects/", ids, [p.pid for _, p in procs])
    finally:
        for _, proc in procs:
            kill_group(proc)


def _own_rss_kb(pid: int, field: str = "VmRSS:") -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def rss_mb(pid: int) -> tuple[float, float, float]:
    """A process's anonymous (heap) and file-backed resident memory, and its descendants' (the server's helper
    processes) resident memory, in MB (Linux). SQLite's memory-mapped database pages count as file-backed."""
    helpers, todo = 0, []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            todo += [int(c) for c in (task / "children").read_text().split()]
    while todo:
        current = todo.pop()
        helpers += _own_rss_kb(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return _own_rss_kb(pid, "RssAnon:") / 1024, _own_rss_kb(pid, "RssFile:") / 1024, helpers / 1024


@dataclass
class Results:
    """Latencies (seconds) and errors per kind, and memory samples (MB per sample, summed over servers)."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_examples: list[str] = field(default_factory=list)
    rss: list[tuple[float, float, float, float]] = field(default_factory=list)  # (t, heap, file, helpers)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _client(n: int, target: Target, until: float, results: Results, rng: random.Random) -> None:
    base = target.urls[n % len(target.urls)]
    headers = {"Authorization": f"Bearer {target.node.token}", "Accept": MEDIA}
    next_token: str | None = None
    counter = n * 10_000_000
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as h:
        while time.monotonic() < until:
            kind = rng.choices(KINDS, WEIGHTS)[0]
            started = time.perf_counter()
            try:
                if kind == "taxii_page":
                    params = {"limit": "100", **({"next": next_token} if next_token else {})}
                    r = await h.get(target.collection_url, params=params)
                    body = r.json() if r.status_code == 200 and r.content else {}
                    next_token = body.get("next") if body.get("more") else None
                elif kind == "taxii_post_100":
                    objects = [_indicator(counter + i) for i in range(100)]
                    counter += 100
                    content = orjson.dumps({"objects": objects})
                    r = await h.post(target.collection_url, content=content, headers={"Content-Type": MEDIA})
                elif kind == "lookup_100":
                    values = [_ip(rng.randrange(2000)) for _ in range(100)]
                    r = await h.post("/api/v1/lookup", json={"values": values})
                elif kind == "object_read":
                    r = await h.get(f"/api/v1/objects/{rng.choice(target.ids)}")
                else:
                    r = await h.get(f"/api/v1/objects/{rng.choice(target.ids)}/correlations")
                elapsed = time.perf_counter() - started
                if 200 <= r.status_code < 300:
                    results.latencies[kind].append(elapsed)
                else:
                    results.errors[kind] += 1
                    if len(results.error_examples) < 5:
                        results.error_examples.append(f"{kind}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                results.errors[kind] += 1
                if len(results.error_examples) < 5:
                    results.error_examples.append(f"{kind}: {type(exc).__name__} {exc}")


async def _sample(pids: list[int], until: float, every: float, results: Results, started: float) -> None:
    while time.monotonic() < until:
        samples = [rss_mb(pid) for pid in pids]
        heap, mapped, helpers = (sum(s[i] for s in samples) for i in range(3))
        results.rss.append((time.monotonic() - started, heap, mapped, helpers))
        await asyncio.sleep(every)


def run_load(target: Target, clients: int, seconds: float, *, seed: int = 1, sample_every: float = 5.0) -> Results:
    """Run `clients` concurrent clients for `seconds`; what they measured."""
    results = Results()

    async def main() -> None:
        started = time.monotonic()
        until = started + seconds
        tasks = [_client(n, target, until, results, random.Random(seed * 1000 + n)) for n in range(clients)]
        await asyncio.gather(_sample(target.pids, until, sample_every, results, started), *tasks)
        results.seconds = time.monotonic() - started

    asyncio.run(main())
    return results


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def per_kind_rows(results: Results, ms: Callable[[float], str] = lambda s: f"{s * 1000:.0f}") -> list[list[str]]:
    rows = []
    for kind in KINDS:
        values = results.latencies.get(kind, [])
        rows.append(
            [
                kind,
                str(len(values) + results.errors.get(kind, 0)),
                str(results.errors.get(kind, 0)),
                ms(pct(values, 50)) if values else "-",
                ms(pct(values, 99)) if values else "-",
                f"{len(values) / results.seconds:.1f}" if results.seconds else "-",
            ]
        )
    return rows


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
