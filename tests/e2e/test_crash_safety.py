"""SIGKILL at random points: `accord import`, the server during a TAXII POST, and `accord worker`.

After every kill: each file or envelope is stored wholly or not at all, nothing is stored twice, the audit chain
verifies, and the node starts and serves. ACCORD_CRASH_ITERATIONS sets the kills per case (6 in the suite;
`make nightly` runs 200). On SQLite, and on PostgreSQL when ACCORD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.e2e.nodes import ACCORD, MEDIA
from tests.e2e.procs import ALICE, ProcNode, indicators, kill_group, proc_node
from tests.integration.ops.empty_db import empty_database

ITERATIONS = int(os.environ.get("ACCORD_CRASH_ITERATIONS", "6"))
KINDS = ["sqlite"] + (["postgres"] if PG_URL else [])
INLINE_MAX = 100  # envelopes above this go through the job queue


@pytest.fixture(params=KINDS)
def crash_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProcNode]:
    with (
        empty_database(request.param, tmp_path) as url,
        proc_node(url, tmp_path / "node", ACCORD_TAXII_INLINE_MAX_OBJECTS=str(INLINE_MAX)) as node,
    ):
        node.seed = int(os.environ.get("ACCORD_CRASH_SEED", str(random.SystemRandom().randrange(1 << 30))))
        print(f"crash seed {node.seed} ({request.param})")
        yield node
        print(f"kills that interrupted work ({request.param}): {node.kills}")


def _write_files(folder: Path, count: int, size: int) -> tuple[list[str], list[list[str]]]:
    folder.mkdir(parents=True)
    paths, batches = [], []
    for i in range(count):
        objects = indicators(size)
        path = folder / f"bundle-{i}.json"
        path.write_bytes(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))
        paths.append(str(path))
        batches.append([o["id"] for o in objects])
    return paths, batches


def test_a_killed_import_stores_each_file_wholly_or_not_at_all(crash_node: ProcNode, tmp_path: Path) -> None:
    rng = random.Random(crash_node.seed)
    node = crash_node.node
    args = ["--collection", "intel", "--as", ALICE]
    paths, batches = _write_files(tmp_path / "calibrate", 3, 300)
    started = time.monotonic()
    node.cli("import", *paths, *args)
    duration = time.monotonic() - started
    killed = 0
    for i in range(ITERATIONS):
        paths, batches = _write_files(tmp_path / f"run{i}", 3, 300)
        proc = subprocess.Popen(
            [ACCORD, "import", *paths, *args],
            env=node.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0, duration))
        interrupted = kill_group(proc) == -signal.SIGKILL
        killed += interrupted
        outcome = {crash_node.whole_or_nothing(batch) for batch in batches}
        assert len(outcome) == 1  # one command, one transaction: all its files or none
        if interrupted:
            node.cli("import", *paths, *args)  # what the user does next: run it again
        assert all(crash_node.whole_or_nothing(batch) for batch in batches)
    crash_node.kills["import"] = killed
    assert killed >= ITERATIONS // 2  # most kills landed while the import ran
    crash_node.serve()
    crash_node.check_serves()


def test_a_server_killed_during_a_taxii_post_stores_the_envelope_wholly_or_not_at_all(
    crash_node: ProcNode,
) -> None:
    rng = random.Random(crash_node.seed)
    node = crash_node.node
    crash_node.serve()
    cid = node.collection_id("intel", crash_node.token)
    url = f"/taxii2/api/collections/{cid}/objects/"
    with node.http(crash_node.token) as h:  # calibration: how long the server takes to answer a POST
        body = orjson.dumps({"objects": indicators(INLINE_MAX // 2)})
        started = time.monotonic()
        assert h.post(url, content=body, headers={"Content-Type": MEDIA}).status_code == 202
        duration = time.monotonic() - started
    interrupted = 0
    for _ in range(ITERATIONS):
        objects = indicators(rng.choice([INLINE_MAX // 2, INLINE_MAX * 2]))  # stored inline, or by the job queue
        batch = [o["id"] for o in objects]
        answer: dict[str, httpx.Response] = {}

        def post(objects: list[dict] = objects, answer: dict[str, httpx.Response] = answer) -> None:
            # The server may die before it answers.
            with node.http(crash_node.token) as h, contextlib.suppress(httpx.HTTPError):
                answer["r"] = h.post(url, content=orjson.dumps({"objects": objects}), headers={"Content-Type": MEDIA})

        sender = threading.Thread(target=post)
        sender.start()
        time.sleep(rng.uniform(0, 2 * duration))  # before, while or after it answers (a queued one may run)
        assert node.proc is not None
        kill_group(node.proc)
        node.proc = None
        sender.join(60)
        response = answer.get("r")
        stored = crash_node.whole_or_nothing(batch)
        crash_node.serve()
        if response is not None:  # what was acknowledged is kept: inline envelopes at once, queued ones later
            assert response.status_code == 202, response.text
            status = response.json()
            if status["status"] == "complete":
                assert stored
            deadline = time.monotonic() + 120
            with node.http(crash_node.token) as h:
                while status["status"] != "complete" and time.monotonic() < deadline:
                    time.sleep(0.1)
                    status = h.get(f"/taxii2/api/status/{status['id']}/").json()
            assert status["status"] == "complete"
            assert status["success_count"] == len(batch)
            assert crash_node.whole_or_nothing(batch)
        else:
            interrupted += 1
        crash_node.check_serves()
    crash_node.kills["taxii-post"] = interrupted


def test_a_killed_worker_leaves_each_envelope_wholly_stored_or_queued(crash_node: ProcNode) -> None:
    rng = random.Random(crash_node.seed)
    node = crash_node.node
    crash_node.serve("--no-jobs")
    cid = node.collection_id("intel", crash_node.token)

    def queue(n: int) -> list[tuple[str, list[str]]]:
        queued = []
        with node.http(crash_node.token) as h:
            for _ in range(n):
                objects = indicators(INLINE_MAX * 2)
                r = h.post(
                    f"/taxii2/api/collections/{cid}/objects/",
                    content=orjson.dumps({"objects": objects}),
                    headers={"Content-Type": MEDIA},
                )
                assert r.status_code == 202, r.text
                assert r.json()["status"] == "pending"
                queued.append((r.json()["id"], [o["id"] for o in objects]))
        return queued

    def worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [ACCORD, "worker", "--once"],
            env=node.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    queue(3)
    started = time.monotonic()
    assert worker().wait(120) == 0
    duration = time.monotonic() - started
    interrupted = 0
    for _ in range(ITERATIONS):
        envelopes = queue(3)
        proc = worker()
        time.sleep(rng.uniform(0, duration))
        interrupted += kill_group(proc) == -signal.SIGKILL
        for _, batch in envelopes:
            crash_node.whole_or_nothing(batch)
        assert worker().wait(120) == 0  # the next run finishes what the killed one left, at once
        with node.http(crash_node.token) as h:
            for status_id, batch in envelopes:
                status = h.get(f"/taxii2/api/status/{status_id}/").json()
                assert (status["status"], status["success_count"]) == ("complete", len(batch))
                assert crash_node.whole_or_nothing(batch)
    crash_node.kills["worker"] = interrupted
    assert interrupted >= ITERATIONS // 2
    engine = crash_node.engine()
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT DISTINCT status FROM job")).scalars().all() == ["done"]
    finally:
        engine.dispose()
    crash_node.check_serves()
