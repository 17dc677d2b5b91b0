"""Export rate and peak memory of every format, beside the plain STIX bundle export, as the store grows.

A store of N indicators (default 1,000,000; ipv4, domain, url, sha256 and md5 patterns, every TLP level) owned
by 4 organisations in 8 collections; each format is exported by an analyst of one organisation (through the
sharing policy) in its own process, which reports objects/s, values/s and its peak RSS. The same runs on a
store a quarter the size show whether memory stays flat. Peak RSS includes what every reader of the node holds
(SQLite's page cache and memory map, accord.core.db; the warninglist matcher): a format's own memory is its
excess over the baseline row of the same N. Last, a repeated poll with If-None-Match (304) beside
GET /healthz, through the ASGI app. Run: python bench/bench_exports.py [N]
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from sqlalchemy import insert
from sqlalchemy import inspect as sa_inspect

ORGS, COLLECTIONS = 4, 8
FORMATS = [
    ("stix (baseline: plain bundle)", "stix", None),
    ("blocklist ip", "blocklist", "ip"),
    ("blocklist domain", "blocklist", "domain"),
    ("rpz", "rpz", None),
    ("csv", "csv", None),
    ("misp (per day)", "misp", None),
    ("suricata", "suricata", None),
]
_WORDS = ["cloud", "update", "secure", "login", "portal", "mail", "cdn", "sync", "verify", "account"]
_TLDS = ["com", "net", "org", "info", "ru", "top", "io"]


def _pattern(rng: random.Random, i: int) -> str:
    kind = i % 5
    if kind == 0:
        return f"[ipv4-addr:value = '{rng.choice([45, 77, 91, 185])}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}']"
    dom = f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}{i}.{rng.choice(_TLDS)}"
    if kind == 1:
        return f"[domain-name:value = '{dom}']"
    if kind == 2:
        return f"[url:value = 'https://{dom}/{rng.choice(_WORDS)}.php']"
    if kind == 3:
        return f"[file:hashes.'SHA-256' = '{uuid.UUID(int=i).hex}{uuid.UUID(int=i + 7).hex}']"
    return f"[file:hashes.MD5 = '{uuid.UUID(int=i + 3).hex}']"


def load(url: str, n: int) -> None:
    """A migrated store of n indicators, written straight into the tables (as bench_policy does)."""
    from accord.core.db import insert_rows, make_engine
    from accord.core.migrate import upgrade
    from accord.models.accounts import app_user, org
    from accord.models.collections import collection, collection_grant
    from accord.stix.ids import id_key
    from accord.stix.markings import Tlp, tlp_marking_definition
    from accord.store.repository import MEMBER_COLUMNS, VERSION_COLUMNS, bulk_insert

    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        indicator_values = "indicator_value" in sa_inspect(conn).get_table_names()  # absent before 0017
    if indicator_values:
        from accord.correlate.indicator_values import COLUMNS, rows_of
        from accord.correlate.warninglists import active_matcher

        wl = active_matcher()  # the store's write path records each value's warninglists (store.prepare)
    rng = random.Random(7)
    created = "2026-12-01T00:00:00.000Z"
    with engine.begin() as conn:
        for o in range(ORGS):
            conn.execute(
                insert(org).values(
                    id=o + 1, name=f"org{o}", name_key=f"org{o}", stix_id=f"identity--{uuid.uuid4()}",
                    is_host=o == 0, is_remote=False, created_us=0,
                )
            )  # fmt: skip
        conn.execute(
            insert(app_user).values(
                id=1,
                email="analyst@org1.example",
                org_id=2,
                role="analyst",
                password_hash=None,
                disabled=False,
                created_us=0,
            )
        )
        for c in range(COLLECTIONS):
            conn.execute(
                insert(collection).values(
                    id=c + 1, uuid=str(uuid.uuid4()), alias=f"c{c}", title="c", description="", created_us=0
                )
            )
            for o in range(1, ORGS + 1):
                conn.execute(insert(collection_grant).values(collection_id=c + 1, mode="read", org_id=o))
    tlp_ids = [tlp_marking_definition(level)["id"] for level in Tlp]
    seq = 1_764_547_200_000_000  # 2025-12-01
    chunk = 50_000
    for start in range(0, n, chunk):
        rows, members, values = [], [], []
        for i in range(start, min(n, start + chunk)):
            seq += 1
            owner = rng.randint(1, ORGS)
            tlp = rng.choice([None, 0, 1, 1, 2, 2, 3, 4])
            oid = f"indicator--{uuid.UUID(int=i + 1)}"
            body = {
                "type": "indicator", "spec_version": "2.1", "id": oid, "created": created, "modified": created,
                "name": f"indicator {i}", "pattern": _pattern(rng, i), "pattern_type": "stix",
                "valid_from": created, "confidence": 80,
            }  # fmt: skip
            if tlp is not None:
                body["object_marking_refs"] = [tlp_ids[tlp]]
            raw = json.dumps(body).encode()
            if indicator_values:  # what the store's write path adds (accord.correlate.indicator_values)
                values += rows_of(seq, body, wl)
            rows.append(
                (seq, oid, id_key(oid), "indicator", created, created, "2.1", False, True, owner, tlp, None,
                 b"0" * 16, raw, True)
            )  # fmt: skip
            members.append((seq + 5_000_000_000, rng.randint(1, COLLECTIONS), seq, owner))
        with engine.begin() as conn:
            bulk_insert(conn, "stix_object", VERSION_COLUMNS, rows)
            bulk_insert(conn, "collection_object", MEMBER_COLUMNS, members)
            if indicator_values:
                insert_rows(conn, "indicator_value", COLUMNS, values)
            conn.exec_driver_sql(
                f"INSERT INTO node_clock (id, last_us) VALUES (1, {seq}) ON CONFLICT (id) DO UPDATE SET last_us = {seq}"
            )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def _peak_mb() -> float:
    """This process's peak RSS. Linux keeps ru_maxrss across exec: a child would report its parent's peak
    (this benchmark's loader) when that is higher, so VmHWM (of this program's memory only) comes first."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(url: str, fmt: str, kind: str) -> None:
    """One export in this process: prints lines, values (lines; an RPZ zone's domains: two records each, after
    its three header lines), seconds and peak RSS as JSON."""
    os.environ["ACCORD_DATABASE_URL"] = url
    from accord.core.db import get_engine, read_transaction
    from accord.correlate.warninglists import active_matcher
    from accord.exports import service
    from accord.sharing.repository import principal_for

    active_matcher()  # loaded once per process; not part of an export's cost
    with read_transaction(get_engine()) as conn:
        principal = principal_for(conn, org_id=2, role="analyst")
        req = service.ExportRequest(fmt, types=kind or None, group="day")
        prep = service.prepare(conn, principal, req, now_us=1_765_000_000_000_000)
        t0, c0 = time.perf_counter(), time.process_time()
        size = lines = 0
        for chunk in service.stream(conn, principal, prep):
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    values = (lines - 3) // 2 if fmt == "rpz" else lines
    out = {"seconds": elapsed, "cpu": cpu, "bytes": size, "lines": lines, "values": values, "peak_mb": _peak_mb()}
    print(json.dumps(out))


def readable(url: str) -> int:
    from accord.core.db import make_engine
    from accord.sharing.repository import principal_for
    from accord.store.export import iter_raw

    engine = make_engine(url)
    with engine.connect() as conn:
        principal = principal_for(conn, org_id=2, role="analyst")
        count = sum(1 for _ in iter_raw(conn, principal, collection_id=None, all_versions=False))
    engine.dispose()
    return count


def run_formats(url: str, n: int) -> list[tuple[str, int, float, float, float, float, float]]:
    objects = readable(url)
    out = []
    for label, fmt, kind in FORMATS:
        done = subprocess.run(
            [sys.executable, __file__, "--child", url, fmt, kind or ""], capture_output=True, text=True, check=True
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        cpu, wall, values = r.get("cpu") or r["seconds"], r["seconds"], r.get("values", r["lines"])
        out.append((label, n, objects / wall, values / wall, objects / cpu, values / cpu, r["peak_mb"]))
    return out


def poll_304(url: str) -> tuple[float, float]:
    os.environ["ACCORD_DATABASE_URL"] = url
    from fastapi.testclient import TestClient

    from accord.accounts import service as accounts
    from accord.api.app import create_app
    from accord.core.db import get_engine
    from accord.core.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    with get_engine().begin() as conn:
        token = accounts.create_token(conn, "analyst@org1.example")
    client = TestClient(create_app())
    headers = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/exports/blocklist?type=domain", headers={**headers, "If-None-Match": '"x"'})
    etag = first.headers["etag"]

    def median(path: str, extra: dict[str, str]) -> float:
        samples = []
        for _ in range(200):
            t0 = time.perf_counter()
            r = client.get(path, headers={**headers, **extra})
            samples.append((time.perf_counter() - t0) * 1000)
            assert r.status_code in (200, 304)
        return statistics.median(samples)

    return median("/api/v1/exports/blocklist?type=domain", {"If-None-Match": etag}), median("/healthz", {})


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (n // 4, n):
            url = f"sqlite:///{tmp}/exports-{size}.db"
            t0 = time.perf_counter()
            load(url, size)
            print(f"loaded {size:,} indicators in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
            rows += run_formats(url, size)
        ms_304, ms_health = poll_304(url)
    print(f"\nExports by an analyst (policy applied) of a store of N indicators (SQLite; {ORGS} orgs)")
    print("(wall: objects and values per second of elapsed time; CPU: per second of the export process's CPU time;")
    print(" values: lines, except an RPZ zone's domains, two records each)")
    head = ("format", "N", "objects/s wall", "values/s wall", "objects/s CPU", "values/s CPU", "peak MB")
    print(f"{head[0]:32} {head[1]:>10} {head[2]:>15} {head[3]:>13} {head[4]:>14} {head[5]:>12} {head[6]:>8}")
    for label, size, ops, lps, cops, clps, mb in rows:
        print(f"{label:32} {size:10,} {ops:15,.0f} {lps:13,.0f} {cops:14,.0f} {clps:12,.0f} {mb:8.0f}")
    print(f"\nrepeated poll, If-None-Match -> 304: median {ms_304:.2f} ms (GET /healthz beside it: {ms_health:.2f} ms)")


if __name__ == "__main__":
    main()
