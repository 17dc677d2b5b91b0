"""A real `accord serve` process on a free loopback port, against a database prepared by the CLI: SQLite, and
PostgreSQL too when ACCORD_TEST_POSTGRES_URL is set (`e2e_backend`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from accord.api.app import HELPERS_READY_TIMEOUT
from tests.e2e.nodes import BACKENDS, database_url, drop_created

PASSWORD = "correct horse battery"
ACCORD = str(Path(sys.executable).with_name("accord"))


@dataclass
class LiveServer:
    """Where the server listens and who may use it."""

    url: str
    email: str
    password: str
    token: str
    reader_token: str
    alias: str
    pid: int  # the `accord serve` process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [ACCORD, *args], check=False, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"accord {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="session", params=BACKENDS)
def e2e_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database every node of the e2e tests uses; PostgreSQL databases are dropped at the end."""
    yield request.param
    drop_created()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, e2e_backend: str) -> Iterator[LiveServer]:
    """Prepare a node with the CLI, start `accord serve`, and always stop it."""
    home = tmp_path_factory.mktemp("node")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(
        ACCORD_DATABASE_URL=database_url(home, e2e_backend),
        ACCORD_VAR_DIR=str(home / "var"),
        ACCORD_TAXII_INLINE_MAX_OBJECTS="5",  # so that a 10-object envelope goes through the job queue
        ACCORD_TAXII_PAGE_LIMIT="50",
    )
    _cli(env, "init")
    _cli(env, "org", "create", "Alpha")
    _cli(env, "org", "create", "Beta")
    _cli(
        env,
        "user",
        "create",
        "alice@alpha.example",
        "--org",
        "Alpha",
        "--role",
        "analyst",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    _cli(env, "user", "create", "bob@beta.example", "--org", "Beta", "--role", "reader", "--no-password")
    _cli(
        env,
        "collection",
        "create",
        "Shared intel",
        "--alias",
        "shared",
        "--read",
        "Alpha",
        "--read",
        "Beta",
        "--write",
        "Alpha",
    )
    token = _cli(env, "token", "create", "alice@alpha.example").strip().splitlines()[-1].strip()
    reader = _cli(env, "token", "create", "bob@beta.example").strip().splitlines()[-1].strip()
    port = _free_port()
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [ACCORD, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # `accord serve` answers once a helper has warmed up, waiting up to HELPERS_READY_TIMEOUT for one: on a
        # loaded machine that wait alone may take most of it.
        deadline = time.monotonic() + HELPERS_READY_TIMEOUT + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"accord serve did not start: {(home / 'serve.log').read_text()}")
            time.sleep(0.1)
        yield LiveServer(url, "alice@alpha.example", PASSWORD, token, reader, "shared", proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
