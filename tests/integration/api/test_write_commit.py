"""Writes (REST and TAXII) commit before the response is sent: a success is stored, a failed commit claims nothing,
and a write kept waiting by another writer past the lock timeout is a 503 to send again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Connection, create_engine, event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord.accounts import service as accounts
from accord.api import deps
from accord.api.app import create_app
from accord.core.db import get_engine, read_transaction
from accord.models import metadata
from accord.store.service import WriteContext, ingest
from accord.taxii.media import TAXII_MEDIA
from tests.builders import make_indicator
from tests.integration.api.conftest import Node

REPORT = b"Beacon to 194.165.16.47 and hxxps://cdn-update-check[.]com/a.js seen today.\n"


@dataclass(frozen=True)
class Write:
    method: str
    url: str
    body: dict[str, Any] | None
    who: str
    status: int
    document: bytes | None = None  # a text upload instead of a JSON body

    @property
    def taxii(self) -> bool:
        return self.url.startswith("/taxii2/")


def _snapshot() -> dict[str, list[str]]:
    """Every row of every table, as another connection sees it now."""
    with read_transaction(get_engine()) as conn:
        return {t.name: sorted(repr(tuple(r)) for r in conn.execute(select(t))) for t in metadata.sorted_tables}


@pytest.fixture
def writes(node: Node) -> dict[str, Write]:
    """One request for each route that writes (REST and TAXII), on a node where each of them succeeds."""
    mine = make_indicator()
    with get_engine().begin() as conn:
        shared = accounts.create_collection(
            conn, "Shared", "shared", readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"]
        )
        alpha = accounts.get_org_by_name_or_raise(conn, "Alpha")
        ingest(conn, [mine], WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
    objects = f"/taxii2/api/collections/{shared.uuid}/objects/"
    headers = {**node.bearer("alice"), "Content-Type": "text/plain"}
    draft = node.client.post("/api/v1/extract", content=REPORT, headers=headers).json()["id"]
    prefix = node.tokens["bob"].split("_")[1]
    return {
        "org": Write("POST", "/api/v1/orgs", {"name": "Charlie"}, "admin", 201),
        "user": Write(
            "POST", "/api/v1/users", {"email": "c@alpha.example", "org": "Alpha", "role": "reader"}, "admin", 201
        ),
        "token": Write("POST", "/api/v1/tokens", {"email": "alice@alpha.example"}, "admin", 201),
        "revoke": Write("DELETE", f"/api/v1/tokens/{prefix}", None, "admin", 204),
        "group": Write("POST", "/api/v1/groups", {"name": "Pair", "orgs": ["Alpha", "Bravo"]}, "admin", 201),
        "collection": Write(
            "POST", "/api/v1/collections", {"title": "T", "alias": "t", "read": ["Alpha"]}, "admin", 201
        ),
        "sighting": Write("POST", "/api/v1/sightings", {"value": "45.137.21.9", "collection": "shared"}, "alice", 201),
        "review": Write("PATCH", f"/api/v1/extract/drafts/{draft}", {"exclude": ["194.165.16.47"]}, "alice", 200),
        "publish": Write("POST", f"/api/v1/extract/drafts/{draft}/publish", {"collection": "shared"}, "alice", 200),
        "extract": Write("POST", "/api/v1/extract", None, "alice", 201, document=REPORT),
        "taxii-add": Write("POST", objects, {"objects": [make_indicator()]}, "alice", 202),
        "taxii-delete": Write("DELETE", f"{objects}{mine['id']}/", None, "alice", 200),
    }


def _send(node: Node, write: Write) -> Any:
    headers = node.bearer(write.who)
    if write.taxii:
        headers |= {"Accept": TAXII_MEDIA, "Content-Type": TAXII_MEDIA}
        content = orjson.dumps(write.body) if write.body is not None else None
        return node.client.request(write.method, write.url, content=content, headers=headers)
    if write.document is not None:
        headers["Content-Type"] = "text/plain"
        return node.client.request(write.method, write.url, content=write.document, headers=headers)
    return node.client.request(write.method, write.url, json=write.body, headers=headers)


class SnapshotAtResponseStart:
    """Wraps the app: takes a snapshot of the database the moment the response starts going out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[dict[str, list[str]]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["method"] != "GET":
                self.seen.append(_snapshot())
            await send(message)

        await self.app(scope, receive, watch)


WRITES = [
    "org",
    "user",
    "token",
    "revoke",
    "group",
    "collection",
    "sighting",
    "review",
    "publish",
    "extract",
    "taxii-add",
    "taxii-delete",
]


@pytest.mark.parametrize("case", WRITES)
def test_a_write_is_stored_before_its_response_starts(node: Node, writes: dict[str, Write], case: str) -> None:
    from fastapi.testclient import TestClient

    probe = SnapshotAtResponseStart(create_app())
    node.client = TestClient(probe, raise_server_exceptions=False)
    before = _snapshot()
    response = _send(node, writes[case])
    assert response.status_code == writes[case].status, response.text
    after = _snapshot()
    assert after != before
    # What a client that starts its next request the moment this response starts would see: all of it.
    assert probe.seen == [after]


@pytest.fixture
def failing_commits() -> Iterator[None]:
    """Every write transaction fails at COMMIT (read-only snapshots are left alone)."""

    def refuse(conn: Connection) -> None:
        if not conn.get_execution_options().get("accord_readonly"):
            raise OperationalError("COMMIT", None, Exception("disk I/O error"))

    engine = get_engine()
    event.listen(engine, "commit", refuse)
    yield
    event.remove(engine, "commit", refuse)


def _assert_error_5xx(response: Any, *, taxii: bool = False) -> None:
    """A 5xx in the route family's error format: problem JSON, or a TAXII error object under /taxii2/."""
    assert 500 <= response.status_code < 600, (response.status_code, response.text)
    if taxii:
        assert response.headers["content-type"] == TAXII_MEDIA
        assert response.json()["http_status"] == str(response.status_code)
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == response.status_code


@pytest.mark.parametrize("case", WRITES)
def test_a_failed_commit_is_a_5xx_problem_and_stores_nothing(
    node: Node, writes: dict[str, Write], case: str, failing_commits: None
) -> None:
    before = _snapshot()
    response = _send(node, writes[case])
    _assert_error_5xx(response, taxii=writes[case].taxii)
    assert "acc_" not in response.text  # no token that was never stored
    assert _snapshot() == before


def test_a_commit_the_database_refuses_is_a_5xx_problem(node: Node) -> None:
    engine = get_engine()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # A deferred constraint trigger: PostgreSQL runs it, and fails, at COMMIT.
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_org() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER org_refused AFTER INSERT ON org DEFERRABLE INITIALLY DEFERRED "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_org()"
                )
            )
        else:
            # A user of an organisation that does not exist, checked (deferred) at COMMIT.
            conn.execute(
                text(
                    "CREATE TRIGGER org_refused AFTER INSERT ON org BEGIN "
                    "INSERT INTO app_user (email, org_id, role, disabled, created_us) "
                    "VALUES ('ghost@nowhere.example', -1, 'reader', 0, 0); END"
                )
            )

    def defer_foreign_keys(conn: Connection) -> None:
        if not conn.get_execution_options().get("accord_readonly"):
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")

    if engine.dialect.name == "sqlite":
        event.listen(engine, "begin", defer_foreign_keys)
    try:
        response = node.client.post("/api/v1/orgs", json={"name": "Charlie"}, headers=node.bearer("admin"))
    finally:
        if engine.dialect.name == "sqlite":
            event.remove(engine, "begin", defer_foreign_keys)
    _assert_error_5xx(response)
    names = [o["name"] for o in node.client.get("/api/v1/orgs", headers=node.bearer("admin")).json()]
    assert "Charlie" not in names
    assert "Alpha" in names


def _unit_of_work_scopes(route: APIRoute) -> list[str | None]:
    found: list[str | None] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        if dep.call is deps.write_conn:
            found.append(dep.scope)
        pending.extend(dep.dependencies)
    return found


def _api_routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI keeps an included router as one entry
        if included is not None:
            yield from _api_routes(included.routes)


def test_every_route_with_a_unit_of_work_commits_before_responding() -> None:
    routes = [r for r in _api_routes(create_app().routes) if _unit_of_work_scopes(r)]
    assert {(next(iter(r.methods)), r.path) for r in routes} >= {
        ("POST", "/api/v1/orgs"),
        ("POST", "/api/v1/tokens"),
        ("POST", "/api/v1/sightings"),
        ("POST", "/api/v1/extract/drafts/{draft_id}/publish"),
    }
    for route in routes:
        # The "function" scope runs the dependency's exit (the commit) before the response is sent.
        assert _unit_of_work_scopes(route) == ["function"], route.path


@pytest.fixture
def short_lock_timeout(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes wait a fifth of a second for another writer's lock (set before the node's engine is made)."""
    monkeypatch.setenv("ACCORD_DATABASE_LOCK_TIMEOUT_SECONDS", "0.2")
    from accord.core import settings as core_settings

    core_settings.get_settings.cache_clear()


@contextmanager
def another_writer_holds_the_database() -> Iterator[None]:
    """Another connection holds what every write needs, as a long transaction of another process would.

    SQLite: the write lock (BEGIN IMMEDIATE). PostgreSQL: every table locked against writes (EXCLUSIVE mode:
    reads go on, as they do past a writer)."""
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    other = create_engine(engine.url, poolclass=NullPool)
    with other.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        yield
    other.dispose()


@pytest.mark.parametrize("case", WRITES)
def test_a_write_that_meets_a_held_lock_is_a_503_to_retry_and_stores_nothing(
    short_lock_timeout: None, node: Node, writes: dict[str, Write], case: str
) -> None:
    before = _snapshot()
    with another_writer_holds_the_database():
        response = _send(node, writes[case])
        assert response.status_code == 503, response.text
        _assert_error_5xx(response, taxii=writes[case].taxii)
        assert int(response.headers["Retry-After"]) >= 1
        assert "acc_" not in response.text
        assert _snapshot() == before
    # Once the other writer is done, the same request goes through.
    response = _send(node, writes[case])
    assert response.status_code == writes[case].status, response.text
    assert _snapshot() != before


def test_writes_waiting_for_the_sqlite_lock_leave_the_threads_to_reads(node: Node) -> None:
    """More writing requests than the server has worker threads wait for the write lock held by another process:
    a read still gets a thread and answers while every write waits, and the writes then all go through.

    (Each write used to wait in a thread, asleep in SQLite's busy handler: 40 of them took every thread, and
    reads waited for a thread until the lock came free or the writes timed out.)"""
    import asyncio

    import httpx

    if get_engine().dialect.name != "sqlite":
        pytest.skip("PostgreSQL writes concurrently: its writes wait on row locks, not for one write lock")
    app = node.client.app
    admin = node.bearer("admin")

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            with another_writer_holds_the_database():
                writes = [
                    asyncio.ensure_future(
                        client.post("/api/v1/groups", json={"name": f"G{i}", "orgs": ["Alpha"]}, headers=admin)
                    )
                    for i in range(60)
                ]
                await asyncio.sleep(0.5)  # every write has started and waits
                read = asyncio.ensure_future(client.get("/api/v1/orgs", headers=admin))
                done, _ = await asyncio.wait({read}, timeout=20)  # a liveness bound, not a speed measure
                assert read in done, "the read found no thread while writes waited for the lock"
                assert read.result().status_code == 200
                assert not [w for w in writes if w.done()]  # all still waiting for the lock
            responses = await asyncio.gather(*writes)
        assert [r.status_code for r in responses] == [201] * 60

    asyncio.run(run())
