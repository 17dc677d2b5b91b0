"""Three real nodes on loopback, each with its own database and key: A publishes, B pulls from A and pushes back,
C pulls from B. What crosses is exactly what the sharing rules allow (R2, R4, F1, F2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from accord.core.db import normalize_url
from tests.e2e.nodes import Node, indicator, make_node

pytestmark = pytest.mark.e2e


@dataclass
class Federation:
    a: Node
    b: Node
    c: Node
    alice: str  # analyst of Alpha on A
    b_admin: str
    c_admin: str
    a_intel: str  # the id of A's collection "intel"
    b_from_a: str  # the id of B's collection "from-a"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory, e2e_backend: str) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("fed")
    a, b, c = (make_node(root, n, org, e2e_backend) for n, org in (("A", "Alpha"), ("B", "Beta"), ("C", "Gamma")))
    try:
        # A: Alpha publishes into "intel", which B's sync account (a record of Beta on A) reads.
        a.cli("org", "create", "Beta")
        alice = a.user("alice@alpha.example", "Alpha", "analyst")
        b_sync_on_a = a.user("sync@beta.example", "Beta", "sync")
        a.cli(
            "collection", "create", "Intel", "--alias", "intel", "--read", "Alpha", "--read", "Beta", "--write", "Alpha"
        )
        a.cli("collection", "create", "Inbox", "--alias", "inbox", "--read", "Alpha", "--write", "Beta")
        # B: Beta pulls A's intel into "from-a", which C's sync account (a record of Gamma on B) reads.
        b.cli("org", "create", "Gamma")
        b.cli("org", "create", "Alpha node")
        b_admin = b.tokens["admin@b.example"]
        c_sync_on_b = b.user("sync@gamma.example", "Gamma", "sync")
        b.cli(
            "collection",
            "create",
            "From A",
            "--alias",
            "from-a",
            "--read",
            "Beta",
            "--read",
            "Gamma",
            "--read",
            "Alpha node",
            "--write",
            "Beta",
        )
        # C: Gamma pulls B's from-a.
        c.cli("collection", "create", "From B", "--alias", "from-b", "--read", "Gamma", "--write", "Gamma")
        for node in (a, b, c):
            node.start()
        a_intel = a.collection_id("intel", alice)
        b_from_a = b.collection_id("from-a", b_admin)
        b.add_peer("A", a, "Beta", b_sync_on_a, remote_org="Alpha node")
        b.cli("peer", "pull", "A", "--remote", a_intel, "--into", "from-a")
        c.add_peer("B", b, "Gamma", c_sync_on_b, url=f"{b.url}/taxii2/")  # a discovery URL finds the API root
        c.cli("peer", "pull", "B", "--remote", b_from_a, "--into", "from-b")
        yield Federation(a, b, c, alice, b_admin, c.tokens["admin@c.example"], a_intel, b_from_a)
    finally:
        for node in (a, b, c):
            node.stop()


def _names(objects: dict[str, dict]) -> set[str]:
    return {o["name"] for o in objects.values() if o.get("type") == "indicator"}


def test_a_to_b_to_c_carries_exactly_what_the_rules_allow(fed: Federation) -> None:
    published = [indicator(f"fed {tlp}", tlp) for tlp in ("clear", "green", "amber", "amber+strict", "red")]
    status = fed.a.post(fed.alice, "intel", published)
    assert status["success_count"] == 5

    done = fed.b.cli("sync", "A")
    assert "5 new" not in done.stdout  # RED and AMBER+STRICT never leave A
    assert "3 new" in done.stdout, done.stdout
    assert done.stderr == ""
    on_b = _names(fed.b.objects(fed.b_admin, "from-a"))
    assert on_b == {"fed clear", "fed green", "fed amber"}

    fed.c.cli("sync", "B")
    on_c = _names(fed.c.objects(fed.c_admin, "from-b"))
    assert on_c == {"fed clear", "fed green"}  # AMBER never travels a second hop (R4)

    # Syncing again brings nothing new and duplicates nothing.
    again = fed.b.cli("sync", "A").stdout
    assert " 0 new" in again
    assert _names(fed.b.objects(fed.b_admin, "from-a")) == on_b


def test_a_new_version_and_a_deletion_on_a_reach_b(fed: Federation) -> None:
    keep = indicator("fed versioned", "green")
    drop = indicator("fed deleted", "green")
    fed.a.post(fed.alice, "intel", [keep, drop])
    fed.b.cli("sync", "A")
    assert {"fed versioned", "fed deleted"} <= _names(fed.b.objects(fed.b_admin, "from-a"))

    newer = {**keep, "modified": "2026-11-02T00:00:00.000Z", "name": "fed versioned v2"}
    fed.a.post(fed.alice, "intel", [newer])
    fed.a.delete(fed.alice, "intel", drop["id"])
    fed.b.cli("sync", "A")
    on_b = fed.b.objects(fed.b_admin, "from-a")
    assert on_b[keep["id"]]["name"] == "fed versioned v2"
    assert drop["id"] not in on_b


def test_a_reconciling_sync_removes_what_a_deleted(fed: Federation) -> None:
    drop = indicator("fed reconciled away", "green")
    fed.a.post(fed.alice, "intel", [drop])
    fed.b.cli("sync", "A")
    assert drop["id"] in fed.b.objects(fed.b_admin, "from-a")
    fed.a.delete(fed.alice, "intel", drop["id"])
    done = fed.b.cli("sync", "A", "--reconcile")
    assert ", removed " in done.stdout, done.stdout  # with whatever else A deleted before (the test above)
    assert drop["id"] not in fed.b.objects(fed.b_admin, "from-a")


def test_b_pushing_to_a_sends_nothing_that_came_from_a(fed: Federation) -> None:
    inbox = fed.a.collection_id("inbox", fed.alice)
    # On A, B's pushes arrive through B's sync account, as the record of Beta.
    b_mine = fed.b.user("bob@beta.example", "Beta", "analyst")
    from_a = indicator("fed relayed from a", "clear")
    fed.a.post(fed.alice, "intel", [from_a])
    fed.b.cli("sync", "A")
    assert from_a["id"] in fed.b.objects(fed.b_admin, "from-a")  # readable by A's record on B, yet never sent
    own = indicator("fed from b", "green")
    fed.b.post(b_mine, "from-a", [own])
    fed.b.cli(
        "peer",
        "push",
        "A",
        "--from",
        "from-a",
        "--remote",
        inbox,
    )
    out = fed.b.cli("sync", "A").stdout
    assert "sent 1" in out, out
    got = _names(fed.a.objects(fed.alice, "inbox"))
    assert got == {"fed from b"}


def test_unsigned_or_wrongly_signed_content_is_refused_and_reported(fed: Federation) -> None:
    # C expects B's key; point a peer with A's key at B: B's signatures do not verify with it.
    c_sync_on_b = fed.b.token("sync@gamma.example")
    fed.c.add_peer("B-wrong-key", fed.b, "Gamma", c_sync_on_b, public_key=fed.a.public_key())
    fed.c.cli("collection", "create", "Quarantine", "--alias", "quarantine", "--read", "Gamma", "--write", "Gamma")
    fed.c.cli("peer", "pull", "B-wrong-key", "--remote", fed.b_from_a, "--into", "quarantine")
    done = fed.c.cli("sync", "B-wrong-key", check=False)
    assert done.returncode == 1
    assert "signature" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert fed.c.objects(fed.c_admin, "quarantine") == {}
    status = fed.c.cli("peer", "status", "B-wrong-key").stdout
    assert "signature" in status
    assert "failure" in status


def test_peer_listing_and_status_never_show_the_token(fed: Federation) -> None:
    listing = fed.b.cli("peer", "list").stdout
    assert "A\t" in listing
    for secret in fed.a.tokens.values():
        assert secret not in listing
        assert secret not in fed.b.cli("peer", "status").stdout
    with httpx.Client(base_url=fed.b.url, headers={"Authorization": f"Bearer {fed.b_admin}"}) as h:
        body = h.get("/api/v1/peers").text
    for secret in fed.a.tokens.values():
        assert secret not in body
    url = fed.b.env["ACCORD_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///")).read_bytes()  # the whole database file
    else:  # every peer row, each column as PostgreSQL spells it
        engine = create_engine(normalize_url(url))
        try:
            with engine.connect() as con:
                db = "\n".join(con.execute(text("SELECT p::text FROM peer p")).scalars()).encode()
        finally:
            engine.dispose()
        assert db
    for secret in fed.a.tokens.values():
        assert secret.encode() not in db


def test_a_live_pull_delivers_a_publication_through_the_stream(fed: Federation) -> None:
    """Scheduled runs are off on these nodes and a live follower without its stream polls every 30 s: an object
    published on A that B holds well within that is one B's follower fetched because A's stream rang.
    (How fast: bench/bench_federation.py measures the latency, p50 and p99.)"""
    fed.b.cli("peer", "pull", "A", "--remote", fed.a_intel, "--into", "from-a", "--live")
    fed.b.stop()
    fed.b.start()  # live subscriptions are followed from the start
    first = indicator("fed live 1", "green")
    fed.a.post(fed.alice, "intel", [first])
    assert _arrives(fed, first["id"], within=60.0), "the live subscription never delivered the object"
    # The follower is connected now: the next publication comes the same way.
    second = indicator("fed live 2", "green")
    fed.a.post(fed.alice, "intel", [second])
    assert _arrives(fed, second["id"], within=60.0)


def _arrives(fed: Federation, oid: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if oid in fed.b.objects(fed.b_admin, "from-a"):
            return True
        time.sleep(0.05)
    return False
