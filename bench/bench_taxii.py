"""TAXII 2.1 throughput: Accord vs medallion 3.0.0 (memory backend), real servers on loopback.

POST of 10,000 and 100,000 indicators in envelopes of 1,000; full paged GET of collections of 10,000, 100,000
and 1,000,000 objects (the 1,000,000 store is bulk-loaded through the store service, not POSTed, after the POSTs:
both servers take their POSTs into an empty store). Accord runs on SQLite, and on PostgreSQL too when
ACCORD_BENCH_POSTGRES_URL is set. The 10,000-object POST of medallion and Accord on SQLite is the median of
alternating rounds on fresh servers, so that the machine's drifting speed weighs on both alike.

Run: python bench/bench_taxii.py [--quick] [--postgres-only]   (--quick: 10,000 objects only)
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import cpu_probe, indicator

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
MEDIA = "application/taxii+json;version=2.1"
ENVELOPE = 1_000
PAGE = 1_000
MEDALLION_POST_MAX = 10_000  # its add_objects compares each new object with every stored one: quadratic
MEDALLION_GET_MAX = 2_000  # paging one of its collections costs seconds per page (measured ~20 objects/s)
SMALL = 2_000  # the collection size both servers are paged at
PAIRED = 10_000  # the POST measured in alternating rounds on fresh servers
ROUNDS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], auth: Any = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early ({proc.returncode})")
        try:
            httpx.get(url, timeout=1, auth=auth)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def post_rate(client: httpx.Client, objects_url: str, seed: str, n: int) -> float:
    """Objects per second for POSTing n indicators in envelopes of ENVELOPE (waiting for completion)."""
    elapsed = 0.0
    for start in range(0, n, ENVELOPE):
        body = orjson.dumps({"objects": [indicator(i, seed) for i in range(start, min(n, start + ENVELOPE))]})
        t0 = time.perf_counter()
        r = client.post(objects_url, content=body, headers={"Content-Type": MEDIA, "Accept": MEDIA})
        r.raise_for_status()
        status = r.json()
        while status["status"] != "complete":
            time.sleep(0.05)
            status = client.get(f"{objects_url.split('/collections/', maxsplit=1)[0]}/status/{status['id']}/").json()
        elapsed += time.perf_counter() - t0
        if status.get("failure_count"):
            raise RuntimeError(f"unexpected failures: {status['failures'][:2]}")
    return n / elapsed


def get_rate(client: httpx.Client, objects_url: str, expected: int) -> float:
    """Objects per second for a full paged GET (following `next`)."""
    got = 0
    params: dict[str, str] = {"limit": str(PAGE)}
    t0 = time.perf_counter()
    while True:
        r = client.get(objects_url, params=params, headers={"Accept": MEDIA})
        r.raise_for_status()
        body = orjson.loads(r.content)
        got += len(body.get("objects", []))
        if not body.get("more"):
            break
        params = {"limit": str(PAGE), "next": body["next"]}
    elapsed = time.perf_counter() - t0
    if got != expected:
        raise RuntimeError(f"paged GET returned {got} objects, expected {expected}")
    return got / elapsed


# --- Accord ----------------------------------------------------------------------------------------------------


def _prepare_accord(url: str, var: Path, aliases: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Create the org, user, token and collections in-process."""
    os.environ["ACCORD_DATABASE_URL"] = url
    os.environ["ACCORD_VAR_DIR"] = str(var)
    from accord.accounts import service as accounts
    from accord.core import db, settings
    from accord.core.migrate import upgrade

    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    engine = db.get_engine()
    upgrade(engine)
    colls: dict[str, str] = {}
    with engine.begin() as conn:
        accounts.create_org(conn, "Bench", actor="bench")
        accounts.create_user(conn, "bench@example.org", "Bench", "analyst", None, actor="bench")
        token = accounts.create_token(conn, "bench@example.org", actor="bench")
        for alias in aliases:
            colls[alias] = accounts.create_collection(conn, alias, alias, readers=["Bench"], writers=["Bench"]).uuid
    engine.dispose()
    db.get_engine.cache_clear()
    return token, colls


def _bulk_load(url: str, bulk: int) -> None:
    """Store `bulk` indicators into collection g1m in-process (the server keeps running), then ANALYZE on PG."""
    from accord.accounts import service as accounts
    from accord.core import db
    from accord.store.service import WriteContext, ingest

    engine = db.make_engine(url)
    with engine.begin() as conn:
        org_id = accounts.principal_for_email(conn, "bench@example.org").org_id
        bulk_id = accounts.get_collection_by_alias_or_raise(conn, "g1m").id
    t0 = time.perf_counter()
    ctx = WriteContext(writer_org_id=org_id, collection_id=bulk_id)
    for start in range(0, bulk, 50_000):
        with engine.begin() as conn:
            ingest(conn, (indicator(i, "g1m") for i in range(start, min(bulk, start + 50_000))), ctx)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"  bulk-loaded {bulk:,} objects in {time.perf_counter() - t0:.0f} s", flush=True)


@contextmanager
def accord_server(url: str, aliases: tuple[str, ...]) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A fresh `accord serve` on the database URL with these collections; a client and their objects URLs."""
    with tempfile.TemporaryDirectory() as tmp:
        token, colls = _prepare_accord(url, Path(tmp) / "var", aliases)
        port = _free_port()
        env = {**os.environ, "ACCORD_DATABASE_URL": url, "ACCORD_VAR_DIR": str(Path(tmp) / "var")}
        args = [str(BIN / "accord"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        with _process(args, env, Path(tmp) / "serve.log") as proc:
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/healthz", proc)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                yield client, {alias: f"/taxii2/api/collections/{uuid}/objects/" for alias, uuid in colls.items()}


def bench_accord(url: str, sizes: list[int], bulk: int) -> dict[str, float]:
    """Run the Accord measurements against one database URL."""
    results: dict[str, float] = {}
    with accord_server(url, ("p2k", "p10k", "p100k", "g1m")) as (client, objects):
        post_rate(client, objects["p2k"], "p2k", SMALL)
        results[f"GET {SMALL:,}"] = get_rate(client, objects["p2k"], SMALL)
        for n, alias in zip(sizes[:2], ("p10k", "p100k"), strict=False):
            results[f"POST {n:,}"] = post_rate(client, objects[alias], alias, n)
            results[f"GET {n:,}"] = get_rate(client, objects[alias], n)
        if bulk:  # after the POSTs, which like medallion's start from an empty store
            _bulk_load(url, bulk)
            results[f"GET {bulk:,}"] = get_rate(client, objects["g1m"], bulk)
    return results


@contextmanager
def _postgres_database(base_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from accord.core.db import normalize_url

    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalize_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalize_url(base_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- medallion -------------------------------------------------------------------------------------------------


@contextmanager
def medallion_server(aliases: tuple[str, ...]) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A fresh medallion (memory backend, Flask server) with these collections; a client and their objects URLs."""
    collections = {
        alias: {
            "id": str(uuid.uuid4()),
            "title": alias,
            "can_read": True,
            "can_write": True,
            "media_types": ["application/stix+json;version=2.1"],
            "objects": [],
            "manifest": [],
        }
        for alias in aliases
    }
    data = {
        "/discovery": {"title": "bench", "default": "http://127.0.0.1/api1/", "api_roots": ["http://127.0.0.1/api1/"]},
        "api1": {
            "information": {"title": "api1", "versions": [MEDIA], "max_content_length": 1_000_000_000},
            "status": [],
            "collections": list(collections.values()),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp) / "data.json"
        data_file.write_text(json.dumps(data))
        config = {
            "backend": {
                "module": "medallion.backends.memory_backend",
                "module_class": "MemoryBackend",
                "filename": str(data_file),
            },
            "users": {"bench": "bench"},
            "taxii": {"max_page_size": PAGE},
        }
        config_file = Path(tmp) / "config.json"
        config_file.write_text(json.dumps(config))
        port = _free_port()
        args = [str(BIN / "medallion"), "--host", "127.0.0.1", "--port", str(port), str(config_file)]
        with _process(args, dict(os.environ), Path(tmp) / "medallion.log") as proc:
            base = f"http://127.0.0.1:{port}"
            _wait(f"{base}/taxii2/", proc, auth=("bench", "bench"))
            with httpx.Client(base_url=base, auth=("bench", "bench"), timeout=600) as client:
                yield client, {alias: f"/api1/collections/{c['id']}/objects/" for alias, c in collections.items()}


def bench_medallion(sizes: list[int]) -> dict[str, float]:
    """Run the medallion measurements where they finish in reasonable time."""
    results: dict[str, float] = {}
    with medallion_server(("p2k", "p10k", "p100k")) as (client, objects):
        post_rate(client, objects["p2k"], "p2k", SMALL)
        results[f"GET {SMALL:,}"] = get_rate(client, objects["p2k"], SMALL)
        for n, alias in zip(sizes[:2], ("p10k", "p100k"), strict=False):
            if n == PAIRED:
                continue  # measured in alternating rounds with Accord (post_rounds); not paged (MEDALLION_GET_MAX)
            if n <= MEDALLION_POST_MAX:
                results[f"POST {n:,}"] = post_rate(client, objects[alias], alias, n)
            if n <= MEDALLION_GET_MAX and f"POST {n:,}" in results:
                results[f"GET {n:,}"] = get_rate(client, objects[alias], n)
    return results


def post_rounds(rounds: int, n: int) -> tuple[list[float], list[float]]:
    """POST rates of medallion and Accord (SQLite) in alternating rounds, each on fresh servers and stores.

    This shared machine's speed drifts over minutes; pairing the two servers round by round keeps a slow
    spell from landing on one of them only. Each round warms up as the main runs do (a 2,000-object POST).
    """
    medallion: list[float] = []
    accord: list[float] = []
    for _ in range(rounds):
        with medallion_server(("warm", "post")) as (client, objects):
            post_rate(client, objects["warm"], "warm", SMALL)
            medallion.append(post_rate(client, objects["post"], "post", n))
        with (
            tempfile.TemporaryDirectory() as tmp,
            accord_server(f"sqlite:///{tmp}/bench.db", ("warm", "post")) as (
                client,
                objects,
            ),
        ):
            post_rate(client, objects["warm"], "warm", SMALL)
            accord.append(post_rate(client, objects["post"], "post", n))
    return medallion, accord


def _row(name: str, values: list[float | None]) -> str:
    cells = [f"{v:>17,.0f}" if v is not None else f"{'skipped':>17}" for v in values]
    return f"{name:<16}" + "".join(cells)


def main() -> None:
    """Measure and print the table."""
    quick = "--quick" in sys.argv
    sizes = [10_000] if quick else [10_000, 100_000]
    bulk = 0 if quick else 1_000_000
    columns: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("medallion", lambda: bench_medallion(sizes)),
        ("accord-sqlite", lambda: bench_accord(f"sqlite:///{tempfile.mkdtemp()}/bench.db", sizes, bulk)),
    ]
    pg = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
    if pg:

        def run_pg() -> dict[str, float]:
            with _postgres_database(pg) as url:
                return bench_accord(url, sizes, bulk)

        columns.append(("accord-postgres", run_pg))
    if "--postgres-only" in sys.argv:
        columns = [c for c in columns if c[0] == "accord-postgres"]
    results: dict[str, dict[str, float]] = {}
    loads: list[str] = []
    probes: list[str] = []
    for name, run in columns:
        print(f"running {name} ...", flush=True)
        before, probe = os.getloadavg()[0], cpu_probe()
        results[name] = run()
        loads.append(f"{name} {before:.1f}->{os.getloadavg()[0]:.1f}")
        probes.append(f"{name} {probe:.0f}->{cpu_probe():.0f}")
    rounds: tuple[list[float], list[float]] | None = None
    if "medallion" in results:
        print(f"running POST {PAIRED:,} in {ROUNDS} alternating rounds ...", flush=True)
        rounds = post_rounds(ROUNDS, PAIRED)
        results["medallion"][f"POST {PAIRED:,}"] = statistics.median(rounds[0])
        results["accord-sqlite"][f"POST {PAIRED:,}"] = statistics.median(rounds[1])
    gets = [SMALL, *sizes] + ([bulk] if bulk else [])
    rows = [f"POST {n:,}" for n in sizes] + [f"GET {n:,}" for n in gets]
    print()
    print("objects/s (higher is better); POST in envelopes of 1,000; GET pages of 1,000 following `next`")
    if rounds is not None:
        print(f"POST {PAIRED:,} for medallion and accord-sqlite: the median of {ROUNDS} alternating rounds (below)")
    print(f"{'':<16}" + "".join(f"{name:>17}" for name, _ in columns))
    for row in rows:
        print(_row(row, [results[name].get(row) for name, _ in columns]))
    if rounds is not None:
        med, acc = rounds
        pairs = ", ".join(f"{m:,.0f} / {a:,.0f} = {a / m:.1f}x" for m, a in zip(med, acc, strict=True))
        print(f"POST {PAIRED:,} rounds, medallion / accord-sqlite: {pairs}")
    print(f"1-minute load average before->after each column ({os.cpu_count()} cores): {', '.join(loads)}")
    print(f"a fixed CPU loop before->after each column (ms; this shared machine's speed drifts): {', '.join(probes)}")
    print(
        f"medallion skipped: POST above {MEDALLION_POST_MAX:,} objects (its duplicate check is quadratic) and GET "
        f"above {MEDALLION_GET_MAX:,} (seconds per page); no 1,000,000 store is built for it."
    )


if __name__ == "__main__":
    main()
