"""`accord backup` while a writer keeps posting TAXII envelopes to a real `accord serve` (issue 23, backups).

The restored node must hold one consistent snapshot: every version of every envelope acknowledged before the
backup started; each envelope wholly or not at all; the restored envelopes a prefix of the ones sent (a single
writer posts them one after another, so a snapshot can only cut the sequence once); nothing stored twice; every
stored version in its collection; and an audit chain that verifies. On SQLite (the online backup API), and on
PostgreSQL (pg_dump) when ACCORD_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from accord.core import db as core_db
from accord.stix.timestamps import normalize_timestamp
from tests.conftest import PG_URL
from tests.e2e.nodes import ACCORD, MEDIA, indicator
from tests.e2e.procs import ProcNode, proc_node
from tests.integration.ops.empty_db import empty_database

KINDS = ["sqlite"] + (["postgres"] if PG_URL else [])
NEW_PER_ENVELOPE = 20  # new objects, plus a new version of each of the previous envelope's new objects
PRELOAD = 5_000  # so that the backup takes long enough for envelopes to arrive while it runs


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Writer(threading.Thread):
    """Posts envelopes one after another until stopped; keeps each envelope's (id, version) pairs and when it
    was acknowledged (stored inline: the 202 status is complete)."""

    def __init__(self, node: ProcNode) -> None:
        super().__init__(daemon=True)
        self.node = node
        self.stop = threading.Event()
        self.sent: list[set[tuple[str, str]]] = []
        self.acked_at: list[float] = []
        self.failure: str | None = None

    def run(self) -> None:
        cid = self.node.node.collection_id("intel", self.node.token)
        previous: list[dict] = []
        try:
            with self.node.node.http(self.node.token) as h:
                while not self.stop.is_set():
                    n = len(self.sent)
                    fresh = [indicator(f"backup {n} {i} {uuid.uuid4().hex[:8]}") for i in range(NEW_PER_ENVELOPE)]
                    modified = f"2026-11-01T00:{n // 60 % 60:02d}:{n % 60:02d}.500Z"
                    newer = [{**o, "modified": modified, "name": o["name"] + " v2"} for o in previous]
                    envelope = fresh + newer
                    self.sent.append({(o["id"], normalize_timestamp(o["modified"]) or "") for o in envelope})
                    r = h.post(
                        f"/taxii2/api/collections/{cid}/objects/",
                        content=orjson.dumps({"objects": envelope}),
                        headers={"Content-Type": MEDIA},
                    )
                    status = r.json()
                    if r.status_code != 202 or status["status"] != "complete" or status["failure_count"]:
                        self.failure = r.text[:500]
                        return
                    self.acked_at.append(time.monotonic())
                    previous = fresh
        except Exception as exc:  # reported by the test
            self.failure = repr(exc)


def _stored(url: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]], int]:
    """The restored node's (id, version) pairs, those of them in a collection, and the rows stored twice."""
    engine = core_db.make_engine(url)
    try:
        with engine.connect() as conn:
            pairs = {(r[0], r[1]) for r in conn.execute(sa.text("SELECT id, version FROM stix_object"))}
            members = {
                (r[0], r[1])
                for r in conn.execute(
                    sa.text(
                        "SELECT o.id, o.version FROM stix_object o JOIN collection_object m ON m.object_seq = o.seq"
                    )
                )
            }
            doubled = conn.execute(
                sa.text(
                    "SELECT count(*) FROM (SELECT id, version, owner_org_id FROM stix_object "
                    "GROUP BY id, version, owner_org_id HAVING count(*) > 1) d"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return pairs, members, int(doubled)


@pytest.fixture
def writing_node(kind: str, tmp_path: Path) -> Iterator[ProcNode]:
    with empty_database(kind, tmp_path) as url, proc_node(url, tmp_path / "node") as node:
        bundle = tmp_path / "preload.json"
        objects = [indicator(f"preload {i}") for i in range(PRELOAD)]
        bundle.write_bytes(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))
        node.node.cli("import", str(bundle), "--collection", "intel", "--as", "alice@alpha.example")
        node.serve()
        yield node


def test_a_backup_taken_during_writes_restores_one_consistent_snapshot(
    kind: str, writing_node: ProcNode, tmp_path: Path
) -> None:
    writer = Writer(writing_node)
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while len(writer.acked_at) < 3 and writer.failure is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(writer.acked_at) >= 3, writer.failure
        backup = tmp_path / "node.backup"
        started = time.monotonic()
        acked_before = len(writer.acked_at)
        writing_node.node.cli("backup", str(backup))
        finished = time.monotonic()
        sent_by_end = len(writer.sent)
        time.sleep(0.5)  # writes go on after the backup too
    finally:
        writer.stop.set()
        writer.join(timeout=120)
    assert writer.failure is None, writer.failure
    during = sum(1 for t in writer.acked_at if started < t < finished)
    print(f"{kind}: {acked_before} envelopes before the backup, {during} acknowledged while it ran")

    with empty_database(kind, tmp_path) as url:
        env = {**writing_node.node.env, "ACCORD_DATABASE_URL": url, "ACCORD_VAR_DIR": str(tmp_path / "restored")}
        done = subprocess.run(
            [ACCORD, "restore", str(backup)], check=False, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        verified = subprocess.run(
            [ACCORD, "audit", "verify"], check=False, env=env, capture_output=True, text=True, timeout=300
        )
        assert verified.returncode == 0, verified.stderr
        assert "audit chain intact" in verified.stdout
        pairs, members, doubled = _stored(url)

    assert doubled == 0
    written = set().union(*writer.sent)
    assert pairs & written == members & written  # every restored version of the writer's is in its collection
    whole = []
    for i, envelope in enumerate(writer.sent):
        held = len(envelope & pairs)
        assert held in (0, len(envelope)), f"envelope {i}: {held} of {len(envelope)} versions restored"
        whole.append(held == len(envelope))
    restored = sum(whole)
    assert whole == [True] * restored + [False] * (len(whole) - restored)  # a prefix: one cut
    assert restored >= acked_before  # everything acknowledged before the backup started
    assert restored <= sent_by_end  # nothing the writer sent only after it ended
    assert len({oid for oid, _ in members if oid.startswith("indicator--")} - {oid for oid, _ in written}) == PRELOAD
