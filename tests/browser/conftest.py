"""A real `accord serve` with the demo community and test content, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, make_url, text

from accord.core.db import normalize_url
from tests.browser import content

CHROMIUM = Path("/usr/bin/chromium")
ASSETS = Path(__file__).resolve().parents[2] / "node_modules"
ACCORD = str(Path(sys.executable).with_name("accord"))
PASSWORD = "accord-demo"  # the demo users' password
ALICE = "alice@alpha.example"  # analyst of CERT Alpha
BOB = "bob@bravo.example"  # analyst of SOC Bravo
ADMIN = "admin@accord.local"
PG_URL = os.environ.get("ACCORD_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])

NEEDS = pytest.mark.skipif(
    not CHROMIUM.exists() or not (ASSETS / "axe-core").is_dir(),
    reason="needs /usr/bin/chromium (apt-get install chromium) and npm packages (npm ci); `make test` installs them",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test needs Chromium and the front-end packages (visible as skipped without them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(NEEDS)


@dataclass
class Console:
    """A running node and what the tests stored on it."""

    url: str
    env: dict[str, str]
    home: Path
    xss_ids: list[str] = field(default_factory=list)
    red_ids: list[str] = field(default_factory=list)
    hub_id: str = ""
    hub_neighbours: list[str] = field(default_factory=list)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run an `accord` command against this node."""
        done = subprocess.run(
            [ACCORD, *args], check=False, env=self.env, input=stdin, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"accord {' '.join(args)}: {done.stderr}"
        return done.stdout


def _store(node: Console, name: str, bundle: dict[str, Any], collection: str, email: str) -> None:
    path = node.home / f"{name}.json"
    path.write_bytes(orjson.dumps(bundle))
    node.cli("import", str(path), "--collection", collection, "--as", email)


@contextmanager
def _database(kind: str, home: Path) -> Iterator[str]:
    """A new, empty database of this kind for one node (PostgreSQL: dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{home / 'accord.db'}"
        return
    assert PG_URL
    name = f"accord_web_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The demo node plus payload, RED and graph content, served on a free loopback port; always stopped."""
    home = tmp_path_factory.mktemp("console")
    with _database(request.param, home) as url:
        yield from _serve(url, home)


def _serve(url: str, home: Path) -> Iterator[Console]:
    from tests.e2e.nodes import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(
        ACCORD_DATABASE_URL=url,
        ACCORD_VAR_DIR=str(home / "var"),
        ACCORD_WEB_ASSETS_DIR=str(ASSETS),
        ACCORD_FEED_SCHEDULE_SECONDS="0",
    )
    port = free_port()
    node = Console(f"http://127.0.0.1:{port}", env, home)
    node.cli("init")
    node.cli("demo")
    xss, node.xss_ids = content.xss_bundle()
    _store(node, "xss", xss, "shared", ALICE)
    red, node.red_ids = content.red_bundle()
    _store(node, "red", red, "shared", ALICE)
    star, node.hub_id, node.hub_neighbours = content.star_bundle(50)
    _store(node, "star", star, "shared", ALICE)
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [ACCORD, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{node.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"accord serve did not start: {(home / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield node
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (Playwright's own browser download is never used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


# Records what the page's content policy refused, and is installed before any page script runs.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile (no cookies) that records content-policy violations and requests off the node."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.add_init_script(WATCH_CSP)
    ctx.outside = []  # requests to anywhere but the node: a console that works air-gapped makes none

    def watch(request: Any) -> None:
        if not request.url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:")):
            ctx.outside.append(request.url)

    ctx.on("request", watch)
    yield ctx
    ctx.close()


def sign_in(page: Any, console: Console, email: str, password: str = PASSWORD, next_path: str = "/") -> None:
    """Sign in through the form."""
    page.goto(f"{console.url}/signin?next={next_path}")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


def csp_violations(page: Any) -> list[str]:
    """What the content policy refused on the current page."""
    return list(page.evaluate("window.__csp || []"))
