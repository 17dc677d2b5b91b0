"""Real `accord serve`, `accord import` and `accord worker` processes on one node, and a look inside its database."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from accord.core import db as core_db
from tests.e2e.nodes import ACCORD, Node, free_port, indicator

ALICE = "alice@alpha.example"


@dataclass
class ProcNode:
    """A node with one writer (alice of Alpha, collection `intel`) and a way to look inside its database."""

    node: Node
    url: str
    token: str
    seed: int = 0
    kills: dict[str, int] = field(default_factory=dict)

    def engine(self) -> sa.Engine:
        return core_db.make_engine(self.url)

    def stored(self, batch: list[str]) -> int:
        """How many of these ids are stored (any version), checking nothing is stored twice on the whole node."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                doubled = conn.execute(
                    sa.text(
                        "SELECT id, version, owner_org_id FROM stix_object "
                        "GROUP BY id, version, owner_org_id HAVING count(*) > 1"
                    )
                ).all()
                assert doubled == []
                members = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM collection_object m JOIN stix_object o ON o.seq = m.object_seq "
                        "WHERE o.id IN :ids"
                    ).bindparams(sa.bindparam("ids", expanding=True)),
                    {"ids": batch},
                ).scalar_one()
                count = conn.execute(
                    sa.text("SELECT count(*) FROM stix_object WHERE id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)
                    ),
                    {"ids": batch},
                ).scalar_one()
        finally:
            engine.dispose()
        assert members == count  # every stored version is in the collection once
        return int(count)

    def whole_or_nothing(self, batch: list[str]) -> bool:
        """True if the batch is stored wholly, False if not at all; fails if partly."""
        count = self.stored(batch)
        assert count in (0, len(batch)), f"{count} of {len(batch)} objects stored"
        return count == len(batch)

    def serve(self, *extra: str) -> None:
        """Start the node's `accord serve` (in its own session) and wait until it answers."""
        node = self.node
        node.port = node.port or free_port()
        node.proc = start_server(node, node.port, *extra)

    def check_serves(self) -> None:
        """The audit chain verifies and the node answers a TAXII page of the collection."""
        assert "audit chain intact" in self.node.cli("audit", "verify").stdout
        cid = self.node.collection_id("intel", self.token)
        with self.node.http(self.token) as h:
            page = h.get(f"/taxii2/api/collections/{cid}/objects/", params={"limit": "10"})
        assert page.status_code == 200


def _kill_group(proc: subprocess.Popen[bytes]) -> int:
    """SIGKILL a process and everything it started (its own session); its exit status."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def start_server(node: Node, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """An `accord serve` of the node on `port`, in its own session, once it answers /healthz."""
    log = (node.home / f"serve-{port}.log").open("ab")
    proc = subprocess.Popen(
        [ACCORD, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=node.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, (node.home / f"serve-{port}.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)


def kill_group(proc: subprocess.Popen[bytes]) -> int:
    """SIGKILL a process and everything it started (its own session); its exit status."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


@contextmanager
def proc_node(url: str, home: Path, **settings: str) -> Iterator[ProcNode]:
    """A node on the database at `url`: organisation Alpha, collection `intel`, alice (analyst) and her token."""
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(
        ACCORD_DATABASE_URL=url,
        ACCORD_VAR_DIR=str(home / "var"),
        ACCORD_SYNC_EVERY_SECONDS="0",
        ACCORD_FEED_SCHEDULE_SECONDS="0",
        **settings,
    )
    node = Node("node", home, env)
    node.cli("init")
    node.cli("org", "create", "Alpha")
    node.cli("collection", "create", "Intel", "--alias", "intel", "--read", "Alpha", "--write", "Alpha")
    token = node.user(ALICE, "Alpha", "analyst")
    made = ProcNode(node, url, token)
    try:
        yield made
    finally:
        if node.proc is not None:
            kill_group(node.proc)
            node.proc = None


def indicators(n: int) -> list[dict]:
    return [indicator(f"crash {uuid.uuid4().hex[:12]}") for _ in range(n)]
