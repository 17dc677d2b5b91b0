"""Several `accord serve` processes and workers on one PostgreSQL serve one node (docs/scaling.md)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import PG_URL
from tests.e2e.nodes import ACCORD, MEDIA, free_port
from tests.e2e.procs import ProcNode, indicators, kill_group, proc_node, start_server
from tests.integration.ops.empty_db import empty_database

pytestmark = pytest.mark.skipif(not PG_URL, reason="several processes of a node share a PostgreSQL database")
INLINE_MAX = 100


@dataclass
class Cluster:
    """One node served by several processes (jobs run by `accord worker` only)."""

    node: ProcNode
    urls: list[str]

    def http(self, i: int) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.node.token}", "Accept": MEDIA}
        return httpx.Client(base_url=self.urls[i % len(self.urls)], headers=headers, timeout=120)

    def objects_url(self) -> str:
        return f"/taxii2/api/collections/{self.node.node.collection_id('intel', self.node.token)}/objects/"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with (
        empty_database("postgres", tmp_path) as url,
        proc_node(url, tmp_path / "node", ACCORD_TAXII_INLINE_MAX_OBJECTS=str(INLINE_MAX)) as node,
    ):
        node.serve("--no-jobs")
        others = [free_server(node) for _ in range(2)]
        try:
            yield Cluster(node, [node.node.url, *(f"http://127.0.0.1:{port}" for port, _ in others)])
        finally:
            for _, proc in others:
                kill_group(proc)


def free_server(node: ProcNode) -> tuple[int, subprocess.Popen[bytes]]:
    """Another `accord serve` of the node, on a free port."""
    port = free_port()
    return port, start_server(node.node, port, "--no-jobs")


def _post(cluster: Cluster, i: int, url: str, objects: list[dict]) -> dict:
    with cluster.http(i) as h:
        r = h.post(url, content=orjson.dumps({"objects": objects}), headers={"Content-Type": MEDIA})
    assert r.status_code == 202, r.text
    return dict(r.json())


def test_next_tokens_of_one_process_work_on_every_other(cluster: Cluster) -> None:
    url = cluster.objects_url()
    posted = indicators(90)
    assert _post(cluster, 0, url, posted)["success_count"] == 90
    seen: list[str] = []
    params = {"limit": "7"}
    for page in range(100):
        with cluster.http(page) as h:  # every page from the next process
            r = h.get(url, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [o["id"] for o in body.get("objects", [])]
        if not body.get("more"):
            break
        params = {"limit": "7", "next": body["next"]}
    assert sorted(seen) == sorted(o["id"] for o in posted)


def test_overlapping_envelopes_posted_at_once_to_different_processes_store_each_version_once(
    cluster: Cluster,
) -> None:
    url = cluster.objects_url()
    for _ in range(5):
        pool = indicators(INLINE_MAX + 40)
        envelopes = [pool[:INLINE_MAX], pool[40:], pool[20 : INLINE_MAX - 20]]
        with ThreadPoolExecutor(len(envelopes)) as pool_of_clients:  # at once, each to another process
            answers = list(pool_of_clients.map(lambda ie: _post(cluster, ie[0], url, ie[1]), enumerate(envelopes)))
        assert sorted(a["success_count"] for a in answers) == sorted(len(e) for e in envelopes)
        assert cluster.node.stored([o["id"] for o in pool]) == len(pool)  # once each (stored() checks doubles)


def test_queued_envelopes_run_once_with_several_workers(cluster: Cluster) -> None:
    url = cluster.objects_url()
    queued = []
    for i in range(8):
        objects = indicators(INLINE_MAX + 50)
        status = _post(cluster, i, url, objects)
        assert status["status"] == "pending"
        queued.append((status["id"], [o["id"] for o in objects]))
    env = cluster.node.node.env
    workers = [
        subprocess.Popen([ACCORD, "worker", "--once"], env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)
    ]
    ran = 0
    for proc in workers:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        ran += int(out.split("ran ")[1].split(" ")[0])  # "ran N job(s)"
    assert ran >= len(queued)  # a job another worker already took is counted by both, never run twice
    for i, (status_id, ids) in enumerate(queued):
        with cluster.http(i) as h:
            status = h.get(f"/taxii2/api/status/{status_id}/").json()
        assert (status["status"], status["success_count"]) == ("complete", len(ids))
        assert cluster.node.stored(ids) == len(ids)


def _events(response: httpx.Response) -> list[tuple[str, str, dict]]:
    events = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if fields.get("event") == "object":
            events.append((fields["id"], fields["event"], orjson.loads(fields["data"])))
    return events


def test_the_stream_resumes_on_any_process(cluster: Cluster) -> None:
    url = cluster.objects_url()
    first, second = indicators(30), indicators(30)
    _post(cluster, 0, url, first)
    with cluster.http(0) as h:
        r = h.get("/api/v1/stream", params={"collection": "intel", "from": "start", "wait": "0"})
    assert r.status_code == 200
    events = _events(r)
    assert [e[2]["id"] for e in events] == [o["id"] for o in first]
    _post(cluster, 1, url, second)
    for i in (1, 2):  # resumed on each other process: exactly what came after, nothing twice
        with cluster.http(i) as h:
            r = h.get(
                "/api/v1/stream", params={"collection": "intel", "wait": "0"}, headers={"Last-Event-ID": events[-1][0]}
            )
        assert r.status_code == 200, r.text
        assert [e[2]["id"] for e in _events(r)] == [o["id"] for o in second]
