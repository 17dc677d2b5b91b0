"""Cost and speed of the correlation value index on SQLite.

A store of N objects (default 1,000,000: indicators of every value kind, CIDR indicators, ipv4-addr and
domain-name SCOs) over 10 organisations, loaded through the store service. Then: ingest of 100,000 new
indicators with the value index on and off (the off run is the baseline), single-value lookup latency over
10,000 random values (hits and misses), one 10,000-value batch lookup, and index bytes per stored value at
100,000 objects and at N. Run: python bench/bench_correlate.py [--size 1000000]
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
from accord.core.db import make_engine
from accord.core.migrate import upgrade
from accord.correlate.lookup import lookup
from accord.sharing.policy import Principal, Role
from accord.sharing.repository import principal_for
from accord.stix.ids import deterministic_sco_id
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store.prepare import prepare_all
from accord.store.service import WriteContext, ingest_prepared

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


def ingest_new(engine: Any, org_id: int, ident: str, col: int, *, index: bool, n: int) -> float:
    objs = [datagen.indicator(i, seed="new", created_by_ref=ident) for i in range(n)]
    with engine.connect() as conn:
        trans = conn.begin()
        t0 = time.perf_counter()
        items = prepare_all(objs, MAX_BYTES, index=index)
        ingest_prepared(conn, items, WriteContext(writer_org_id=org_id, collection_id=col))
        elapsed = time.perf_counter() - t0
        trans.rollback()
    return n / elapsed


def _pct(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.99) - 1)]


def latencies(engine: Any, principal: Principal, values: list[str]) -> tuple[float, float]:
    samples = []
    with engine.connect() as raw:
        conn = raw.execution_options(accord_readonly=True)
        with conn.begin():
            for v in values[:200]:
                lookup(conn, principal, [v])  # warm caches (warninglists, statements)
            for v in values:
                t0 = time.perf_counter()
                lookup(conn, principal, [v])
                samples.append((time.perf_counter() - t0) * 1000)
    return _pct(samples)


def batch(engine: Any, principal: Principal, values: list[str]) -> float:
    with engine.connect() as raw:
        conn = raw.execution_options(accord_readonly=True)
        with conn.begin():
            t0 = time.perf_counter()
            lookup(conn, principal, values)
            return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=100_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="accord-bench-")
    engine = make_engine(f"sqlite:///{os.path.join(tmp, 'bench.db')}")
    upgrade(engine)
    ids, idents, cols = setup(engine)
    first = min(100_000, args.size)
    t0 = time.perf_counter()
    samples = load(engine, 0, first, ids, idents, cols)
    small = index_size(engine)
    samples += load(engine, first, args.size, ids, idents, cols)
    load_s = time.perf_counter() - t0
    large = index_size(engine)
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
    admin = Principal(org_id=ids[0], role=Role.ADMIN)
    a50, a99 = latencies(engine, analyst, values)
    d50, d99 = latencies(engine, admin, values)
    ab, db = batch(engine, analyst, values), batch(engine, admin, values)
    popular = [f"https://{WIDESPREAD_HOST}/p/{i}.php" for i in range(2, 40_000, 4) if i % 997 < 4][:40]
    w50, w99 = latencies(engine, analyst, popular * 3)
    with engine.connect() as conn:
        [_, host] = lookup(conn, analyst, popular[:1])[0]["values"]
    rows = [
        ("store loaded (objects, seconds)", f"{args.size:,}", f"{load_s:.0f} s"),
        (f"index bytes/value at {first:,} objects", f"{small[0] / max(small[1], 1):.1f}", f"{small[1]:,} values"),
        (f"index bytes/value at {args.size:,} objects", f"{large[0] / max(large[1], 1):.1f}", f"{large[1]:,} values"),
        (f"ingest {args.new:,} indicators, index off (baseline)", f"{off:,.0f}/s", ""),
        (f"ingest {args.new:,} indicators, index on", f"{on:,.0f}/s", f"{on / off:.0%} of baseline"),
        ("single lookup p50 / p99, analyst (ms)", f"{a50:.2f} / {a99:.2f}", "10,000 values, ~50% hits"),
        ("single lookup p50 / p99, admin (ms)", f"{d50:.2f} / {d99:.2f}", ""),
        ("10,000-value batch, analyst / admin (ms)", f"{ab:.0f} / {db:.0f}", ""),
        (
            "lookup of a widespread value p50 / p99 (ms)",
            f"{w50:.1f} / {w99:.1f}",
            f"host in {host.get('count')} readable",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>16}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    main()
