"""Federation under faults, with real processes: a peer killed mid-pull, the puller killed mid-pull, peers that
answer 500 or time out, and a body altered on the way. Each ends with no loss, no duplicates and a clear status.

Node A holds 20,000 generated objects (bench/datagen.py) in "intel" and three indicators in "small"; every test
makes its own puller B (organisation Beta, whose sync account on A reads both collections).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import pytest
from bench.datagen import bundle, mixed
from sqlalchemy import create_engine, text

from accord.core.db import normalize_url
from tests.e2e.nodes import ACCORD, Node, indicator, make_node

pytestmark = pytest.mark.e2e

BIG = 20_000
PAGE = "500"  # B asks A for pages this small, so that a pull of BIG has 40 pages to be stopped between


@dataclass
class Source:
    a: Node
    sync_token: str  # Beta's sync account on A
    intel: str  # A's collection of BIG objects
    small: str  # A's collection of three indicators
    intel_versions: set[tuple[str, str]]  # (id, version) of intel, as Beta's sync account reads it
    small_versions: set[tuple[str, str]]
    backend: str  # the database of A and of every B pulling from it


def manifest(node: Node, token: str, collection_id: str) -> list[tuple[str, str]]:
    """Every (id, version) of a collection's manifest, all versions, every page (duplicates kept). An object without
    a version of its own (an SCO) is listed with its date_added, which differs between nodes: "-" stands for it."""
    out: list[tuple[str, str]] = []
    params = {"limit": "1000", "match[version]": "all"}
    with node.http(token) as h:
        while True:
            r = h.get(f"/taxii2/api/collections/{collection_id}/manifest/", params=params)
            r.raise_for_status()
            body = r.json() if r.content else {}
            out += [
                (e["id"], "-" if e["version"] == e["date_added"] else e["version"]) for e in body.get("objects", [])
            ]
            if not body.get("more"):
                return out
            params = {**params, "next": body["next"]}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, e2e_backend: str) -> Iterator[Source]:
    root = tmp_path_factory.mktemp("faults")
    a = make_node(root, "A", "Alpha", e2e_backend)
    try:
        a.cli("org", "create", "Beta")
        alice = a.user("alice@alpha.example", "Alpha", "analyst")
        sync_token = a.user("sync@beta.example", "Beta", "sync")
        for title, alias in (("Intel", "intel"), ("Small", "small")):
            a.cli(
                "collection", "create", title, "--alias", alias, "--read", "Alpha", "--read", "Beta", "--write", "Alpha"
            )
        path = root / "big.json"
        path.write_bytes(orjson.dumps(bundle(mixed(BIG))))
        a.cli("import", str(path), "--collection", "intel", "--as", "alice@alpha.example")
        a.start()
        a.post(alice, "small", [indicator(f"small {i}", "green") for i in range(3)])
        intel, small = a.collection_id("intel", alice), a.collection_id("small", alice)
        versions = {cid: manifest(a, sync_token, cid) for cid in (intel, small)}
        assert len(versions[intel]) > BIG * 0.95  # mixed() has 1% invalid objects, which A refused
        yield Source(a, sync_token, intel, small, set(versions[intel]), set(versions[small]), e2e_backend)
    finally:
        a.stop()


@dataclass
class Puller:
    b: Node
    admin: str

    def query(self, sql: str) -> list[tuple]:
        engine = create_engine(
            normalize_url(self.b.env["ACCORD_DATABASE_URL"]),
            connect_args={"timeout": 30} if self.b.env["ACCORD_DATABASE_URL"].startswith("sqlite") else {},
        )
        try:
            with engine.connect() as con:
                return [tuple(row) for row in con.execute(text(sql))]
        finally:
            engine.dispose()

    def received(self) -> int:
        return int(self.query("SELECT count(*) FROM object_receipt")[0][0])

    def subscription(self) -> dict:
        cols = "failures, last_error, last_run_us, next_run_us, stored, duplicates, watermark"
        (row,) = self.query(f"SELECT {cols} FROM peer_subscription")
        return dict(zip(cols.split(", "), row, strict=True))

    def sync(self) -> subprocess.Popen[str]:
        """`accord sync A` on B, running."""
        env = {**self.b.env, "ACCORD_SYNC_PAGE_LIMIT": PAGE}
        return subprocess.Popen(
            [ACCORD, "sync", "A"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def sync_until(
        self, received: int, stop: Callable[[subprocess.Popen[str]], object]
    ) -> subprocess.CompletedProcess[str]:
        """Run `accord sync A`, call `stop` with it once `received` versions are committed, and wait for it."""
        proc = self.sync()
        while self.received() < received and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, f"the sync ended before it could be stopped: {proc.communicate()}"
        stop(proc)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def versions(self) -> list[tuple[str, str]]:
        """(id, version) of B's collection from-a, through B's own TAXII manifest (B serving)."""
        return manifest(self.b, self.admin, self.b.collection_id("from-a", self.admin))


def make_puller(tmp_path: Path, source: Source, remote: str, *, url: str | None = None, **options: str) -> Puller:
    """A node B whose organisation Beta pulls `remote` from peer A (at `url`, default A itself) into from-a."""
    b = make_node(tmp_path, "B", "Beta", source.backend)
    b.cli("collection", "create", "From A", "--alias", "from-a", "--read", "Beta", "--write", "Beta")
    flags = [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", v)]
    b.cli(
        "peer", "add", "A", "--url", url or source.a.api_root, "--org", "Beta", "--token-env", "PEER_TOKEN",
        "--allow-private", *flags, PEER_TOKEN=source.sync_token,
    )  # fmt: skip
    b.cli("peer", "pull", "A", "--remote", remote, "--into", "from-a")
    return Puller(b, b.tokens["admin@b.example"])


def assert_holds_exactly(p: Puller, expected: set[tuple[str, str]]) -> None:
    """B holds each expected version once, and nothing else, and its totals say so."""
    p.b.start()
    try:
        got = p.versions()
    finally:
        p.b.stop()
    assert len(got) == len(set(got)), "a version is listed twice"
    assert set(got) == expected
    twice = p.query("SELECT id, version FROM stix_object GROUP BY id, version HAVING count(*) > 1")
    assert twice == []
    assert p.received() == len(expected)
    sub = p.subscription()
    assert sub["stored"] == len(expected)
    assert sub["failures"] == 0
    assert sub["last_error"] is None


def one_error_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- kills ---------------------------------------------------------------------------------------------------


def test_a_killed_mid_pull_then_restarted(tmp_path: Path, source: Source) -> None:
    p = make_puller(tmp_path, source, source.intel)
    done = p.sync_until(1_000, lambda _: source.a.stop(kill=True))
    try:
        line = one_error_line(done, "accord: error: A pull")
        assert source.a.url in line  # the request that failed, and why
        stopped_at = p.received()
        assert 1_000 <= stopped_at < len(source.intel_versions)  # some pages committed, not all
        sub = p.subscription()
        assert sub["failures"] == 1
        assert sub["stored"] == stopped_at  # the totals committed with their pages, nothing claimed twice
    finally:
        source.a.start()  # on the same port
    again = p.b.cli("sync", "A", ACCORD_SYNC_PAGE_LIMIT=PAGE)
    assert again.stderr == ""
    assert_holds_exactly(p, source.intel_versions)


def test_b_killed_mid_pull_then_run_again(tmp_path: Path, source: Source) -> None:
    p = make_puller(tmp_path, source, source.intel)
    done = p.sync_until(1_000, lambda proc: proc.send_signal(signal.SIGKILL))
    assert done.returncode == -signal.SIGKILL
    stopped_at = p.received()
    assert 1_000 <= stopped_at < len(source.intel_versions)
    again = p.b.cli("sync", "A", ACCORD_SYNC_PAGE_LIMIT=PAGE)
    assert again.stderr == ""
    assert_holds_exactly(p, source.intel_versions)


# --- peers that fail ------------------------------------------------------------------------------------------


class FaultyPeer(ThreadingHTTPServer):
    """A loopback HTTP server that answers 500 to everything, or answers nothing for `delay` seconds."""

    daemon_threads = True

    def __init__(self, mode: str, delay: float = 3.0) -> None:
        super().__init__(("127.0.0.1", 0), _FaultyHandler)
        self.mode, self.delay = mode, delay

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/taxii2/api/"


class _FaultyHandler(BaseHTTPRequestHandler):
    server: FaultyPeer

    def do_GET(self) -> None:
        if self.server.mode == "slow":
            time.sleep(self.server.delay)
        body = b'{"title": "internal error"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/taxii+json;version=2.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


Serve = Callable[[ThreadingHTTPServer], None]


@pytest.fixture
def serving() -> Iterator[Serve]:
    """Serve test HTTP servers from threads; shut them all down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def serve(server: ThreadingHTTPServer) -> None:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("mode", "reason"), [("500", "HTTP 500"), ("slow", "timed out")])
def test_a_failing_peer_backs_off_stores_nothing_and_recovers(
    tmp_path: Path,
    source: Source,
    serving: Serve,
    mode: str,
    reason: str,
) -> None:
    peer = FaultyPeer(mode)
    serving(peer)
    p = make_puller(tmp_path, source, source.small, url=peer.api_root, timeout="1")
    delays = []
    for failures in (1, 2):
        one_error_line(p.b.cli("sync", "A", check=False), "accord: error: A pull", peer.api_root, reason)
        sub = p.subscription()
        assert sub["failures"] == failures
        assert reason in sub["last_error"]
        delays.append(sub["next_run_us"] - sub["last_run_us"])
        status = p.b.cli("peer", "status", "A").stdout
        assert f"{failures} failure" in status
        assert reason in status
        assert "retry in" in status
    # 5 s after the first failure, 10 s after the second (from the end of each run, which took < 5 s)
    assert 5_000_000 <= delays[0] < 10_000_000 <= delays[1]
    assert p.received() == 0
    assert p.query("SELECT count(*) FROM stix_object WHERE peer_id IS NOT NULL") == [(0,)]

    p.b.cli("peer", "edit", "A", "--url", source.a.api_root)  # the peer is back (here: at its real address)
    done = p.b.cli("sync", "A")
    assert "3 new" in done.stdout
    assert done.stderr == ""
    assert "failure" not in p.b.cli("peer", "status", "A").stdout
    assert_holds_exactly(p, source.small_versions)


# --- a body altered on the way ---------------------------------------------------------------------------------


class TamperingProxy(ThreadingHTTPServer):
    """Forwards GETs to a node and, while `tamper` is set, alters one byte of each objects page it answers (its
    signature header passed on as it came)."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.target = target
        self.tamper = True
        self.altered = 0

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/taxii2/api/"


class _ProxyHandler(BaseHTTPRequestHandler):
    server: TamperingProxy
    HOP = frozenset({"connection", "content-length", "content-encoding", "transfer-encoding", "keep-alive"})

    def do_GET(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "accept-encoding")}
        got = httpx.get(self.server.target + self.path, headers={**headers, "Accept-Encoding": "identity"})
        body = got.content
        if self.server.tamper and "/objects/" in self.path and b"small" in body:
            body = body.replace(b"small", b"smell", 1)  # still valid STIX: only the signature tells
            self.server.altered += 1
        self.send_response(got.status_code)
        for key, value in got.headers.items():
            if key.lower() not in self.HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_an_altered_body_is_refused_reported_and_nothing_stored(tmp_path: Path, source: Source, serving: Serve) -> None:
    proxy = TamperingProxy(source.a.url)
    serving(proxy)
    p = make_puller(tmp_path, source, source.small, url=proxy.api_root, public_key=source.a.public_key())
    line = one_error_line(p.b.cli("sync", "A", check=False), "accord: error: A pull", "signature")
    assert proxy.altered == 1, line
    assert p.received() == 0
    assert p.query("SELECT count(*) FROM stix_object WHERE peer_id IS NOT NULL") == [(0,)]
    status = p.b.cli("peer", "status", "A").stdout
    assert "1 failure" in status
    assert "signature" in status

    proxy.tamper = False  # the same proxy, passing bodies as they are: A's signatures verify
    done = p.b.cli("sync", "A")
    assert "3 new" in done.stdout
    assert_holds_exactly(p, source.small_versions)
