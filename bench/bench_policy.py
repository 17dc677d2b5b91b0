"""Cost of the sharing policy's SQL filter on list queries.

A store of N object versions (default 1,000,000) over 10 organisations and 50 collections with every TLP
level; times listing the newest 1,000 objects a non-admin analyst may read, beside the same query without
the policy filter (what an admin runs). Run: python bench/bench_policy.py [N]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
import uuid

from sqlalchemy import insert

from accord.core.db import make_engine
from accord.core.migrate import upgrade
from accord.models.accounts import org, sharing_group, sharing_group_member
from accord.models.collections import collection, collection_grant
from accord.sharing.policy import Principal, Role
from accord.sharing.repository import principal_for
from accord.stix.ids import id_key
from accord.store import queries
from accord.store.repository import MEMBER_COLUMNS, VERSION_COLUMNS, bulk_insert

ORGS, COLLECTIONS = 10, 50


def load(engine, n: int) -> None:
    rng = random.Random(7)
    with engine.begin() as conn:
        for o in range(ORGS):
            conn.execute(
                insert(org).values(
                    id=o + 1,
                    name=f"org{o}",
                    name_key=f"org{o}",
                    stix_id=f"identity--{uuid.uuid4()}",
                    is_host=o == 0,
                    is_remote=False,
                    created_us=0,
                )
            )
        for g in range(5):
            conn.execute(
                insert(sharing_group).values(
                    id=g + 1, name=f"group{g}", name_key=f"group{g}", description="", created_us=0
                )
            )
            for o in rng.sample(range(1, ORGS + 1), 4):
                conn.execute(insert(sharing_group_member).values(group_id=g + 1, org_id=o))
        for c in range(COLLECTIONS):
            conn.execute(
                insert(collection).values(
                    id=c + 1, uuid=str(uuid.uuid4()), alias=f"c{c}", title="c", description="", created_us=0
                )
            )
            for o in rng.sample(range(1, ORGS + 1), 3):
                conn.execute(insert(collection_grant).values(collection_id=c + 1, mode="read", org_id=o))
            conn.execute(insert(collection_grant).values(collection_id=c + 1, mode="read", group_id=rng.randint(1, 5)))
            conn.execute(insert(collection_grant).values(collection_id=c + 1, mode="write", org_id=rng.randint(1, 10)))
    chunk = 50_000
    seq = 1_700_000_000_000_000
    for start in range(0, n, chunk):
        rows, members = [], []
        for i in range(start, min(n, start + chunk)):
            seq += 1
            owner = rng.randint(1, ORGS)
            tlp = rng.choice([None, 0, 1, 1, 2, 2, 3, 4])
            oid = f"indicator--{uuid.UUID(int=i + 1)}"
            raw = b'{"id":"%s","type":"indicator","spec_version":"2.1","name":"x%d"}' % (oid.encode(), i)
            rows.append(
                (
                    seq,
                    oid,
                    id_key(oid),
                    "indicator",
                    "2026-01-01T00:00:00.000000Z",
                    None,
                    "2.1",
                    False,
                    True,
                    owner,
                    tlp,
                    None,
                    b"0" * 16,
                    raw,
                    True,  # sole_copy: every id here is held in one copy
                )
            )
            members.append((seq + 5_000_000_000, rng.randint(1, COLLECTIONS), seq, owner))
        with engine.begin() as conn:
            bulk_insert(conn, "stix_object", VERSION_COLUMNS, rows)
            bulk_insert(conn, "collection_object", MEMBER_COLUMNS, members)


def timed(fn, runs: int = 25) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def run(url: str, n: int, label: str) -> list[tuple[str, float, float, int]]:
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    load(engine, n)
    print(f"[{label}] loaded {n:,} versions in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    out = []
    with engine.connect() as conn:
        analyst = principal_for(conn, org_id=3, role="analyst")
        admin = Principal(org_id=1, role=Role.ADMIN)
        for name, p in (("without policy filter (admin, R0)", admin), ("with policy filter (analyst)", analyst)):
            rows = queries.list_latest(conn, p, limit=1000)
            med, p95 = timed(lambda p=p: queries.list_latest(conn, p, limit=1000))
            out.append((f"{label}: {name}", med, p95, len(rows)))
        page2 = queries.list_latest(conn, analyst, limit=1000)[-1][0]
        med, p95 = timed(lambda: queries.list_latest(conn, analyst, limit=1000, before_seq=page2))
        out.append((f"{label}: with policy filter, second page", med, p95, 1000))
    engine.dispose()
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run(f"sqlite:///{tmp}/policy.db", n, "SQLite")
    pg = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
    if pg:
        rows += run(pg, n, "PostgreSQL")
    print(f"\nList the newest 1,000 readable objects out of {n:,} ({ORGS} orgs, {COLLECTIONS} collections)")
    print(f"{'query':58} {'median ms':>10} {'p95 ms':>8} {'rows':>6}")
    for name, med, p95, count in rows:
        print(f"{name:58} {med:10.1f} {p95:8.1f} {count:6}")


if __name__ == "__main__":
    main()
