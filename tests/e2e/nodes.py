"""Real Accord nodes for end-to-end tests: each its own directory, database, key and `accord serve`.

Every e2e test runs on SQLite, and on PostgreSQL too when ACCORD_TEST_POSTGRES_URL is set (each node its own
new database, dropped at the end of the session).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accord.core.db import normalize_url

ACCORD = str(Path(sys.executable).with_name("accord"))
PG_URL = os.environ.get("ACCORD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])
CREATED: list[str] = []  # PostgreSQL databases made for nodes, dropped at the end of the session (conftest)
MEDIA = "application/taxii+json;version=2.1"
TLPS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def indicator(name: str, tlp: str | None = None, *, oid: str | None = None, modified: str | None = None) -> dict:
    """A valid indicator (new id unless given) marked with a TLP 2.0 marking."""
    created = "2026-11-01T00:00:00.000Z"
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified or created,
        "name": name,
        "pattern": f"[domain-name:value = '{name.lower().replace(' ', '-')}.example']",
        "pattern_type": "stix",
        "valid_from": created,
    }
    if tlp:
        obj["object_marking_refs"] = [TLPS[tlp]]
    return obj


@dataclass
class Node:
    """One node: its CLI environment, and its server once started."""

    name: str
    home: Path
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_root(self) -> str:
        return f"{self.url}/taxii2/api/"

    def cli(self, *args: str, stdin: str | None = None, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [ACCORD, *args],
            check=False,
            env={**self.env, **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, f"{self.name}: accord {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def token(self, email: str) -> str:
        """A new token for an existing user."""
        value = self.cli("token", "create", email).stdout.strip().splitlines()[-1].strip()
        self.tokens[email] = value
        return value

    def user(self, email: str, org: str, role: str) -> str:
        """A user without a password, and a token for it."""
        self.cli("user", "create", email, "--org", org, "--role", role, "--no-password")
        return self.token(email)

    def add_peer(
        self,
        name: str,
        target: Node,
        org: str,
        token: str,
        *,
        public_key: str | None = None,
        url: str | None = None,
        **options: str,
    ) -> None:
        """`accord peer add` of `target` (its TAXII API root, on loopback), its token passed in the environment;
        it must sign with its own key unless told another; options are further `--flag value` pairs."""
        flags = [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", v)]
        key = public_key or target.public_key()
        self.cli(
            "peer", "add", name, "--url", url or target.api_root, "--org", org, "--token-env", "PEER_TOKEN",
            "--allow-private", "--public-key", key, *flags, PEER_TOKEN=token,
        )  # fmt: skip

    def public_key(self) -> str:
        return self.cli("node", "key").stdout.strip()

    def start(self) -> None:
        if not self.port:
            self.port = free_port()
        log = (self.home / "serve.log").open("ab")
        self.proc = subprocess.Popen(
            [ACCORD, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: accord serve did not start: {(self.home / 'serve.log').read_text()}")
            time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.send_signal(signal.SIGKILL)
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    # --- TAXII as a client of this node ---------------------------------------------------------------------

    def http(self, token: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def collection_id(self, alias: str, token: str) -> str:
        with self.http(token) as h:
            r = h.get("/taxii2/api/collections/")
            r.raise_for_status()
            (found,) = [c["id"] for c in r.json()["collections"] if c.get("alias") == alias]
            return str(found)

    def post(self, token: str, alias: str, objects: list[dict]) -> dict:
        cid = self.collection_id(alias, token)
        with self.http(token) as h:
            r = h.post(
                f"/taxii2/api/collections/{cid}/objects/",
                content=orjson.dumps({"objects": objects}),
                headers={"Content-Type": MEDIA},
            )
            assert r.status_code == 202, r.text
            status = r.json()
            deadline = time.monotonic() + 120
            while status["status"] != "complete" and time.monotonic() < deadline:
                time.sleep(0.2)
                status = h.get(f"/taxii2/api/status/{status['id']}/").json()
            return dict(status)

    def delete(self, token: str, alias: str, oid: str) -> None:
        cid = self.collection_id(alias, token)
        with self.http(token) as h:
            r = h.delete(f"/taxii2/api/collections/{cid}/objects/{oid}/")
            assert r.status_code == 200, r.text

    def objects(self, token: str, alias: str) -> dict[str, dict]:
        """id -> latest readable object of a collection, every page."""
        cid = self.collection_id(alias, token)
        out: dict[str, dict] = {}
        params: dict[str, str] = {"limit": "1000"}
        with self.http(token) as h:
            while True:
                r = h.get(f"/taxii2/api/collections/{cid}/objects/", params=params)
                r.raise_for_status()
                body = r.json() if r.content else {}
                for o in body.get("objects", []):
                    out[o["id"]] = o
                if not body.get("more"):
                    return out
                params = {"limit": "1000", "next": body["next"]}


def database_url(home: Path, backend: str) -> str:
    """A new, empty database for one node: a SQLite file in its home, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{home / 'accord.db'}"
    assert PG_URL, "PostgreSQL runs need ACCORD_TEST_POSTGRES_URL"
    name = f"accord_e2e_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    CREATED.append(name)
    return make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)


def drop_created() -> None:
    """Drop the PostgreSQL databases made for nodes (their servers have stopped)."""
    if not CREATED:
        return
    admin = create_engine(normalize_url(PG_URL or ""), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            while CREATED:
                c.execute(text(f'DROP DATABASE IF EXISTS "{CREATED.pop()}" WITH (FORCE)'))
    finally:
        admin.dispose()


def make_node(root: Path, name: str, org: str, backend: str = "sqlite") -> Node:
    """A node with its host organisation named `org` and an admin token, not yet serving."""
    home = root / name
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(
        ACCORD_DATABASE_URL=database_url(home, backend),
        ACCORD_VAR_DIR=str(home / "var"),
        ACCORD_HOST_ORG=org,
        ACCORD_SYNC_EVERY_SECONDS="0",  # tests run syncs themselves (live pulls follow their streams regardless)
        ACCORD_STREAM_POLL_SECONDS="0.05",
    )
    node = Node(name, home, env)
    node.cli("init")
    node.user(f"admin@{name.lower()}.example", org, "admin")
    return node
