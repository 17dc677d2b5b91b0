"""Opening a joint case: the case view (fields, participants, task and link counts) plus the first page of its
tasks, and the correlation summary of its readable linked objects, as a partner's analyst, for a large case
(10,000 linked objects, 1,000 tasks) beside a small one (10 linked objects, 10 tasks) in the same store: the
ratio shows how each grows with the case.

Run: python bench/bench_joint.py [LINKS [TASKS]]   (ACCORD_BENCH_POSTGRES_URL: also on PostgreSQL)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RUNS = 50
TS = "2026-11-01T10:00:00.000Z"


def _indicators(owner_ref: str, n: int, base: int) -> list[dict[str, Any]]:
    from accord.stix.markings import Tlp, tlp_marking_definition

    amber = [tlp_marking_definition(Tlp.AMBER)["id"]]
    return [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid4()}",
            "created_by_ref": owner_ref,
            "created": TS,
            "modified": TS,
            "pattern": f"[ipv4-addr:value = '10.{(base + i) >> 16 & 255}.{(base + i) >> 8 & 255}.{(base + i) & 255}']",
            "pattern_type": "stix",
            "valid_from": TS,
            "object_marking_refs": amber,
        }
        for i in range(n)
    ]


def _build(conn: Any, links: int, tasks: int, base: int, title: str) -> str:
    from accord.accounts import service as accounts
    from accord.joint import service, work
    from accord.sharing.repository import principal_for
    from accord.store.service import WriteContext, ingest

    alpha = accounts.get_org_by_name_or_raise(conn, "Alpha")
    owner = principal_for(conn, org_id=alpha.id, role="analyst", email="alice@alpha.example")
    coll = accounts.get_collection_by_alias_or_raise(conn, "alpha-intel")
    objs = _indicators(alpha.stix_id, links, base)
    ingest(conn, objs, WriteContext(writer_org_id=alpha.id, collection_id=coll.id))
    case = service.create_case(conn, owner, title=title, participants=["Bravo"], object_ids=[o["id"] for o in objs])
    owner = principal_for(conn, org_id=alpha.id, role="analyst", email="alice@alpha.example")
    for i in range(tasks):
        assignee = "bob@bravo.example" if i % 2 else None
        work.add_task(conn, owner, case["id"], title=f"task {i}", assignee=assignee)
    return str(case["id"])


def _open(conn: Any, who: Any, case_id: str) -> int:
    from accord.joint import work

    opened = work.open_case(conn, who, case_id, limit=50)
    return int(opened["links"]) + len(opened["first_tasks"])


def _correlate(conn: Any, who: Any, case_id: str) -> int:
    from accord.joint import correlation

    return len(correlation.case_correlations(conn, who, case_id, limit=20)["values"])


def _open_and_correlate(conn: Any, who: Any, case_id: str) -> int:
    """What a case page shows first: the view, the first page of tasks and the correlation summary."""
    return _open(conn, who, case_id) + _correlate(conn, who, case_id)


def run(url: str, label: str, links: int, tasks: int) -> list[tuple[str, float, float, float]]:
    from accord.accounts import service as accounts
    from accord.core import db as core_db
    from accord.core import settings as core_settings
    from accord.core.db import read_transaction, transaction
    from accord.core.migrate import upgrade
    from accord.demo.service import ensure_host_org
    from accord.sharing.repository import principal_for

    os.environ["ACCORD_DATABASE_URL"] = url
    core_settings.get_settings.cache_clear()
    core_db.get_engine.cache_clear()
    engine = core_db.get_engine()
    upgrade(engine)
    t0 = time.perf_counter()
    with transaction(engine) as conn:
        ensure_host_org(conn)
        for name in ("Alpha", "Bravo", "Charlie"):
            accounts.create_org(conn, name, actor="bench")
        accounts.create_user(conn, "alice@alpha.example", "Alpha", "analyst", None)
        accounts.create_user(conn, "bob@bravo.example", "Bravo", "analyst", None)
        accounts.create_collection(conn, "Alpha intel", "alpha-intel", readers=["Alpha"], writers=["Alpha"])
    with transaction(engine) as conn:
        small = _build(conn, 10, 10, 0, "small case")
    with transaction(engine) as conn:
        large = _build(conn, links, tasks, 100_000, "large case")
    print(f"[{label}] built the cases in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    rows = []
    with read_transaction(engine) as conn:
        bravo = accounts.get_org_by_name_or_raise(conn, "Bravo")
        bob = principal_for(conn, org_id=bravo.id, role="analyst", email="bob@bravo.example")
        cases = (("small (10 links, 10 tasks)", small), (f"large ({links:,} links, {tasks:,} tasks)", large))
        actions = (("open", _open), ("correlate", _correlate), ("open + correlate", _open_and_correlate))
        for what, action in actions:
            for name, case_id in cases:
                action(conn, bob, case_id)  # warm
                times, cpu = [], []
                for _ in range(RUNS):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    action(conn, bob, case_id)
                    times.append((time.perf_counter() - start) * 1000)
                    cpu.append((time.process_time() - start_cpu) * 1000)
                times.sort()
                p95 = times[max(0, int(len(times) * 0.95) - 1)]
                rows.append((f"{label}: {what} {name}", statistics.median(times), p95, statistics.median(cpu)))
    engine.dispose()
    return rows


def main() -> None:
    links = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    tasks = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ACCORD_VAR_DIR"] = str(Path(tmp) / "var")
        rows += run(f"sqlite:///{tmp}/bench.db", "sqlite", links, tasks)
        pg = os.environ.get("ACCORD_BENCH_POSTGRES_URL")
        if pg:
            rows += run(pg, "postgres", links, tasks)
    print(f"\nA partner's analyst opens a case (view + first 50 tasks), its correlation summary, both ({RUNS} runs)")
    print(f"{'case':62} {'median ms':>10} {'p95 ms':>8} {'cpu med ms':>11} {'ratio p95':>10}")
    for i, (name, med, p95, cpu) in enumerate(rows):
        base = rows[i - i % 2][2]
        print(f"{name:62} {med:10.1f} {p95:8.1f} {cpu:11.1f} {p95 / base:10.1f}x")


if __name__ == "__main__":
    main()
