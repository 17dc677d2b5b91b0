"""Cost and speed of the correlation value index on SQLite.

A store of N objects (default 1,000,000: indicators of every value kind, CIDR indicators, ipv4-addr and
domain-name SCOs) over 10 organisations, loaded through the store service. Then: ingest of 100,000 new
indicators from a bundle file the way `accord import` does it (worker processes prepare, one writer), with the
value index on and off (the off run is the baseline), single-value lookup latency over
10,000 random values (hits and misses), one 10,000-value batch lookup, and index bytes per stored value at
100,000 objects and at N. Run: python bench/bench_correlate.py [--size 1000000] [--db /tmp/store.db]

With --db the built store is kept in that file and reused by later runs of the same size (the ingest runs roll
back, so the file never changes after it is built); --skip-ingest measures only the lookups.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datagen
from accord.accounts import service as accounts
from accord.core import helpers
from accord.core.db import make_engine
from accord.core.migrate import upgrade
from accord.correlate.lookup import lookup, lookup_json, start_up
from accord.sharing.policy import Principal, Role
from accord.sharing.repository import principal_for
from accord.stix.ids import deterministic_sco_id
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store.prepare import prepare_all
from accord.store.service import WriteContext, ingest_batches, ingest_prepared

ORGS = 10
WIDESPREAD_HOST = "popular-cdn.example.net"
CHUNK = 20_000
MAX_BYTES = 1 << 20
TLPS = [None, Tlp.CLEAR, Tlp.GREEN, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER, Tlp.RED]
MARKS = {t: tlp_marking_definition(t)["id"] for t in Tlp}


def _ip(i: int) -> str:
    return f"{(i >> 16) % 223 + 1}.{(i >> 8) % 256}.{i % 256}.{(i * 7) % 254 + 1}"


def make_object(i: int, identities: list[str]) -> dict[str, Any]:
    """Object number i: 60% indicators, 1% CIDR indicators, the rest ipv4-addr and domain-name SCOs."""
    org = i % ORGS
    slot = i % 100
    if slot < 60:
        obj = datagen.indicator(i, seed=f"o{org}", created_by_ref=identities[org])
        if i % 4 == 2:
            # datagen puts every URL on one of 50 hosts per org (10,000 objects each at 1M); feeds have a long
            # tail instead: ~30 URLs per host here, plus one deliberately popular host (WIDESPREAD_HOST).
            host = WIDESPREAD_HOST if i % 997 < 4 else f"cdn{i % 5000}.o{org}-files.net"  # every org has some
            obj["pattern"] = f"[url:value = 'https://{host}/p/{i}.php']"
    elif slot < 61:
        obj = datagen.indicator(i, seed=f"o{org}", created_by_ref=identities[org])
        obj["pattern"] = f"[ipv4-addr:value = '{(i >> 16) % 223 + 1}.{(i >> 8) % 256}.{i % 256}.0/24']"
    elif slot < 85:
        obj = {"type": "ipv4-addr", "spec_version": "2.1", "value": _ip(i * 31 + 5)}
        obj["id"] = deterministic_sco_id(obj)
        return obj
    else:
        obj = {"type": "domain-name", "spec_version": "2.1", "value": f"www{i}.o{org}-example{i % 97}.com"}
        obj["id"] = deterministic_sco_id(obj)
        return obj
    tlp = TLPS[i % len(TLPS)]
    if tlp is not None:
        obj["object_marking_refs"] = [MARKS[tlp]]
    return obj


def sample_value(obj: dict[str, Any]) -> str:
    """A value the object holds (for lookups that hit)."""
    if "value" in obj:
        return str(obj["value"])
    return str(obj["pattern"]).split("= '", 1)[1].rsplit("'", 1)[0]


def _prepare(args: tuple[int, int, list[str], bool]) -> tuple[list[Any], list[str]]:
    start, stop, identities, index = args
    objs = [make_object(i, identities) for i in range(start, stop)]
    return prepare_all(objs, MAX_BYTES, index=index), [sample_value(o) for o in objs[::97]]


def setup(engine: Any) -> tuple[list[int], list[str], list[int]]:
    with engine.begin() as conn:
        from accord.demo.service import ensure_host_org

        ensure_host_org(conn)
        orgs = [accounts.create_org(conn, f"org{o}", actor="bench") for o in range(ORGS)]
        rng = random.Random(5)
        cols = []
        for o in range(ORGS):
            readers = sorted({f"org{o}", *(f"org{x}" for x in rng.sample(range(ORGS), 3))})
            cols.append(accounts.create_collection(conn, f"C{o}", f"c{o}", readers=readers, writers=[f"org{o}"]).id)
    return [r.id for r in orgs], [r.stix_id for r in orgs], cols


def existing(engine: Any) -> tuple[list[int], list[str], list[int]]:
    """Org ids, org identities and collection ids of a store built by an earlier run."""
    with engine.connect() as conn:
        orgs = {name: (oid, sid) for oid, name, sid in conn.exec_driver_sql("SELECT id, name, stix_id FROM org")}
        aliases = dict(conn.exec_driver_sql("SELECT alias, id FROM collection").all())
    return (
        [orgs[f"org{o}"][0] for o in range(ORGS)],
        [orgs[f"org{o}"][1] for o in range(ORGS)],
        [aliases[f"c{o}"] for o in range(ORGS)],
    )


def stored_samples(start: int, stop: int, identities: list[str]) -> list[str]:
    """The samples `load` would have returned for a store built earlier (without preparing objects again)."""
    samples: list[str] = []
    for s in range(start, stop, CHUNK):
        samples += [sample_value(make_object(i, identities)) for i in range(s, min(s + CHUNK, stop), 97)]
    return samples


def load(engine: Any, start: int, stop: int, ids: list[int], idents: list[str], cols: list[int]) -> list[str]:
    samples: list[str] = []
    ctx = multiprocessing.get_context("fork")
    jobs = [(s, min(s + CHUNK, stop), idents, True) for s in range(start, stop, CHUNK)]
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        for prepared, sample in pool.map(_prepare, jobs):
            samples += sample
            by_org: dict[int, list[Any]] = {}
            for p in prepared:
                by_org.setdefault(idents.index(p.created_by_ref) if p.created_by_ref else hash(p.id) % ORGS, []).append(
                    p
                )
            with engine.begin() as conn:
                for o, items in by_org.items():
                    ingest_prepared(conn, items, WriteContext(writer_org_id=ids[o], collection_id=cols[o]))
    return samples


def index_size(engine: Any) -> tuple[int, int]:
    with engine.connect() as conn:
        size = conn.exec_driver_sql(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN ('value_index', 'ix_value_index_range')"
        ).scalar_one()
        rows = conn.exec_driver_sql("SELECT COUNT(*) FROM value_index WHERE object_seq > 0").scalar_one()
    return int(size), int(rows)


def size_row(size: tuple[int, int]) -> tuple[str, str]:
    """Index bytes per stored value, and the number of values."""
    return f"{size[0] / max(size[1], 1):.1f}", f"{size[1]:,} values"


def ingest_new(engine: Any, org_id: int, ident: str, col: int, *, index: bool, n: int) -> float:
    """Ingest n new indicators as `accord import` does (bundle file, worker processes), then roll back."""
    import orjson

    from accord.core.db import widen_cache
    from accord.core.settings import get_settings
    from accord.store import parallel
    from accord.store.sources import Source

    objs = [datagen.indicator(i, seed="new", created_by_ref=ident) for i in range(n)]
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "new.json"
        path.write_bytes(orjson.dumps(datagen.bundle(objs)))
        source = Source(path.name, path, path.stat().st_size)
        with engine.connect() as conn:
            trans = conn.begin()
            widen_cache(conn, settings.import_cache_mb)
            t0 = time.perf_counter()
            spans = parallel.prepared_spans(source, batch=settings.import_batch_size, max_bytes=MAX_BYTES, index=index)
            ingest_batches(conn, spans, WriteContext(writer_org_id=org_id, collection_id=col))  # as `accord import`
            elapsed = time.perf_counter() - t0
            trans.rollback()
    return n / elapsed


def _pct(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)]


def latencies(engine: Any, principal: Principal, values: list[str]) -> tuple[float, float, float, float]:
    """Wall p50/p99 and CPU p50/p99 (ms) of one lookup per value (CPU time ignores other processes)."""
    samples, cpu = [], []
    with engine.connect() as raw:
        conn = raw.execution_options(accord_readonly=True)
        with conn.begin():
            for v in values[:200]:
                lookup(conn, principal, [v])  # warm caches (warninglists, statements)
            for v in values:
                t0, c0 = time.perf_counter(), time.process_time()
                lookup(conn, principal, [v])
                samples.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
    return (*_pct(samples), *_pct(cpu))


BATCH_RUNS = 7  # after the first: this machine's speed drifts, one batch alone says little


def batch(engine: Any, principal: Principal, values: list[str]) -> tuple[float, float, float, float]:
    """Wall milliseconds of the first lookup of all the values, then the median, fastest and slowest of
    BATCH_RUNS more.

    Measured as `POST /api/v1/lookup` answers (lookup_json, in a read-only unit of work): a batch this large
    is split with a helper process, started and warmed beforehand as on a running server.
    """
    helpers.wait_ready()
    walls = []
    for _ in range(1 + BATCH_RUNS):
        with engine.connect() as raw:
            conn = raw.execution_options(accord_readonly=True)
            with conn.begin():
                t0 = time.perf_counter()
                lookup_json(conn, principal, values)
                walls.append((time.perf_counter() - t0) * 1000)
    return walls[0], statistics.median(walls[1:]), min(walls[1:]), max(walls[1:])


def noise(n: int = 10_000) -> tuple[float, float]:
    """p50/p99 (ms) of a fixed ~0.1 ms CPU loop: how much of a p99 the machine itself adds (shared cores)."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        sum(range(8_000))
        samples.append((time.perf_counter() - t0) * 1000)
    return _pct(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    parser.add_argument("--db", help="keep the built store in this file and reuse it when it already exists")
    parser.add_argument("--skip-ingest", action="store_true", help="measure lookups only")
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(prefix="accord-bench-"), "bench.db")
    cached = os.path.exists(path)
    engine = make_engine(f"sqlite:///{path}")
    first = min(100_000, args.size)
    t0 = time.perf_counter()
    if cached:
        ids, idents, cols = existing(engine)
        samples = stored_samples(0, first, idents)
        samples += stored_samples(first, args.size, idents)
        small = large = index_size(engine)
    else:
        upgrade(engine)
        ids, idents, cols = setup(engine)
        samples = load(engine, 0, first, ids, idents, cols)
        small = index_size(engine)
        samples += load(engine, first, args.size, ids, idents, cols)
        large = index_size(engine)
    load_s = time.perf_counter() - t0
    off = on = float("nan")
    if not args.skip_ingest:
        off = ingest_new(engine, ids[1], idents[1], cols[1], index=False, n=args.new)
        on = ingest_new(engine, ids[1], idents[1], cols[1], index=True, n=args.new)
    rng = random.Random(11)
    hits = rng.sample(samples, min(5_000, len(samples)))
    misses = [f"203.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(2_500)]
    misses += [f"absent{rng.randint(0, 10**9)}.example.org" for _ in range(2_500)]
    values = hits + misses
    rng.shuffle(values)
    with engine.connect() as conn:
        analyst = principal_for(conn, org_id=ids[1], role="analyst")
    start_up()  # what `accord serve` does at start-up
    admin = Principal(org_id=ids[0], role=Role.ADMIN)
    a50, a99, a50_cpu, a99_cpu = latencies(engine, analyst, values)
    d50, d99, d50_cpu, d99_cpu = latencies(engine, admin, values)
    ab_first, ab, ab_lo, ab_hi = batch(engine, analyst, values)
    db_first, db, db_lo, db_hi = batch(engine, admin, values)
    n50, n99 = noise()
    popular = [f"https://{WIDESPREAD_HOST}/p/{i}.php" for i in range(2, 40_000, 4) if i % 997 < 4][:40]
    w50, w99, w50_cpu, w99_cpu = latencies(engine, analyst, popular * 3)
    with engine.connect() as conn:
        [_, host] = lookup(conn, analyst, popular[:1])[0]["values"]
    rows = [
        ("store loaded (objects, seconds)", f"{args.size:,}", f"{load_s:.0f} s" + (" (cached file)" if cached else "")),
        (f"index bytes/value at {first:,} objects", *(("-", "measured while building") if cached else size_row(small))),
        (f"index bytes/value at {args.size:,} objects", *size_row(large)),
        (f"ingest {args.new:,} indicators, index off (baseline)", f"{off:,.0f}/s", ""),
        (f"ingest {args.new:,} indicators, index on", f"{on:,.0f}/s", f"{on / off:.0%} of baseline"),
        (
            "single lookup p50 / p99, analyst (ms)",
            f"{a50:.2f} / {a99:.2f}",
            f"10,000 values, ~50% hits; CPU {a50_cpu:.2f} / {a99_cpu:.2f} ms",
        ),
        ("single lookup p50 / p99, admin (ms)", f"{d50:.2f} / {d99:.2f}", f"CPU {d50_cpu:.2f} / {d99_cpu:.2f} ms"),
        (
            "10,000-value batch, analyst / admin (ms)",
            f"{ab:.0f} / {db:.0f}",
            f"median of {BATCH_RUNS} (range {ab_lo:.0f}-{ab_hi:.0f} / {db_lo:.0f}-{db_hi:.0f}); first batch "
            f"{ab_first:.0f} / {db_first:.0f} ms; split with a helper process",
        ),
        (
            "lookup of a widespread value p50 / p99 (ms)",
            f"{w50:.1f} / {w99:.1f}",
            f"host in {host.get('count')} readable; CPU {w50_cpu:.1f} / {w99_cpu:.1f} ms",
        ),
    ]
    rows.append(("machine noise: a fixed 0.1 ms loop p50 / p99 (ms)", f"{n50:.2f} / {n99:.2f}", "not Accord"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>16}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
