"""Outgoing webhooks: a notification for a user of an organisation is POSTed, signed, to that organisation's
URLs by the job queue; a failing receiver is retried and given up (dead); non-public addresses are refused
unless allowed; nothing is sent about what the user may no longer read; only admins manage webhooks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from sqlalchemy import select

from accord.core import settings as core_settings
from accord.core.db import get_engine
from accord.joint.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from accord.models.jobs import job
from accord.worker.runner import run_pending
from tests.integration.joint.conftest import Node

pytestmark = pytest.mark.usefixtures("db_url")

SECRET = "a webhook secret of bravo"


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # statuses to answer in turn (then 204)
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A real HTTP server on a local port that records what it receives; private addresses allowed."""
    monkeypatch.setenv("ACCORD_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("ACCORD_WEBHOOK_RETRY_SECONDS", "0")
    monkeypatch.setenv("ACCORD_WEBHOOK_MAX_ATTEMPTS", "3")
    core_settings.get_settings.cache_clear()
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.answers.pop(0) if state.answers else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = None
    for port in range(8660, 8670):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    assert server is not None, "no free port in 8660-8669"
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    core_settings.get_settings.cache_clear()


def _add(node: Node, url: str, org: str = "Bravo", who: str = "admin") -> dict:
    r = node.client.post("/api/v1/webhooks", json={"url": url, "org": org, "secret": SECRET}, headers=node.h(who))
    assert r.status_code == 201, r.text
    return r.json()


def _assign_bob(node: Node) -> tuple[str, str]:
    c, h = node.client, node.h
    cid = c.post("/api/v1/cases", json={"title": "Port", "participants": ["Bravo"]}, headers=h("alice")).json()["id"]
    task = c.post(
        f"/api/v1/cases/{cid}/tasks", json={"title": "Block", "assignee": "bob@bravo.example"}, headers=h("alice")
    )
    assert task.status_code == 201, task.text
    return cid, task.json()["id"]


def _deliveries(node: Node, hook: str) -> list[dict]:
    r = node.client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=node.h("admin"))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_notification_is_posted_signed_to_the_users_organisation(node: Node, receiver: Receiver) -> None:
    hook = _add(node, receiver.url)
    assert hook["secret"] == SECRET
    listed = node.client.get("/api/v1/webhooks", headers=node.h("admin")).json()
    assert [(w["id"], w["org"], w["url"]) for w in listed] == [(hook["id"], "Bravo", receiver.url)]
    assert "secret" not in listed[0] or listed[0]["secret"] is None
    _add(node, receiver.url.replace("/hook", "/charlie"), org="Charlie")
    _, task_id = _assign_bob(node)

    assert run_pending(get_engine()) >= 1
    assert len(receiver.got) == 1  # Bob's entry, to Bravo's URL only (Charlie was told nothing)
    headers, body = receiver.got[0]
    assert verify(SECRET, headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()])
    assert not verify(
        "another secret of sixteen", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify(SECRET, headers[TIMESTAMP_HEADER.lower()], body + b" ", headers[SIGNATURE_HEADER.lower()])
    assert not verify(SECRET, "1000000000", body, headers[SIGNATURE_HEADER.lower()])  # an old timestamp: a replay
    sent = orjson.loads(body)
    feed = node.client.get("/api/v1/notifications", headers=node.h("bob")).json()["notifications"]
    assert sent["notification"]["id"] == feed[0]["id"]
    assert sent["notification"]["kind"] == "task.assigned"
    assert sent["notification"]["user"] == "bob@bravo.example"
    assert sent["object"]["id"] == task_id
    assert sent["delivery"] == headers[DELIVERY_HEADER.lower()]
    assert [d["status"] for d in _deliveries(node, hook["id"])] == ["delivered"]


def test_a_failing_receiver_is_retried_then_given_up(node: Node, receiver: Receiver) -> None:
    hook = _add(node, receiver.url)
    receiver.answers = [500, 503]
    _assign_bob(node)
    run_pending(get_engine())
    assert len(receiver.got) == 3  # two failures, then the third attempt succeeds
    assert len({h[DELIVERY_HEADER.lower()] for h, _ in receiver.got}) == 1  # one delivery, retried
    [d] = _deliveries(node, hook["id"])
    assert (d["status"], d["attempts"], d["last_status"]) == ("delivered", 3, 204)

    receiver.got.clear()
    receiver.answers = [500, 500, 500, 500]
    node.client.post(
        "/api/v1/cases",
        json={"title": "Other", "assignees": ["bob@bravo.example"], "participants": ["Bravo"]},
        headers=node.h("alice"),
    )
    cid = node.client.get("/api/v1/cases", headers=node.h("alice")).json()["cases"][0]["id"]
    node.client.post(
        f"/api/v1/cases/{cid}/tasks", json={"title": "Again", "assignee": "bob@bravo.example"}, headers=node.h("alice")
    )
    run_pending(get_engine())
    assert len(receiver.got) == 3  # webhook_max_attempts, then no more
    newest = _deliveries(node, hook["id"])[0]
    assert (newest["status"], newest["attempts"], newest["last_status"]) == ("dead", 3, 500)
    assert "HTTP 500" in newest["last_error"]
    with get_engine().connect() as conn:  # no attempt is left queued
        assert conn.execute(select(job.c.id).where(job.c.status == "queued")).first() is None


def test_private_addresses_are_refused_unless_allowed(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_WEBHOOK_RETRY_SECONDS", "0")
    core_settings.get_settings.cache_clear()
    for url in ("http://127.0.0.1:8661/hook", "http://10.1.2.3/hook", "http://[::1]/x", "ftp://example.org/"):
        r = node.client.post("/api/v1/webhooks", json={"url": url, "org": "Bravo"}, headers=node.h("admin"))
        assert r.status_code == 400, (url, r.text)
    # A host name is checked when sent, at each address it resolves to: localhost is refused, at once dead.
    r = node.client.post(
        "/api/v1/webhooks", json={"url": "http://localhost:8662/h", "org": "Bravo"}, headers=node.h("admin")
    )
    assert r.status_code == 201, r.text
    hook = r.json()
    assert len(hook["secret"]) >= 16  # generated, shown once
    _assign_bob(node)
    run_pending(get_engine())
    [d] = _deliveries(node, hook["id"])
    assert (d["status"], d["attempts"]) == ("dead", 1)
    assert "non-public address" in d["last_error"]


def test_nothing_is_sent_about_what_the_user_may_no_longer_read(node: Node, receiver: Receiver) -> None:
    hook = _add(node, receiver.url)
    cid, _ = _assign_bob(node)
    # Bravo leaves the case before the worker runs: Bob may no longer read the task, so nothing leaves.
    r = node.client.post(f"/api/v1/cases/{cid}/participants", json={"remove": ["Bravo"]}, headers=node.h("alice"))
    assert r.status_code == 200, r.text
    run_pending(get_engine())
    assert receiver.got == []
    assert [d["status"] for d in _deliveries(node, hook["id"])] == ["withheld"]


def test_only_admins_manage_webhooks(node: Node, receiver: Receiver) -> None:
    for who in ("alice", "bob"):
        r = node.client.post("/api/v1/webhooks", json={"url": receiver.url, "org": "Bravo"}, headers=node.h(who))
        assert r.status_code == 403
        assert node.client.get("/api/v1/webhooks", headers=node.h(who)).status_code == 403
    hook = _add(node, receiver.url)
    assert node.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=node.h("bob")).status_code == 403
    assert node.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=node.h("admin")).status_code == 204
    assert node.client.get("/api/v1/webhooks", headers=node.h("admin")).json() == []
    r = node.client.post("/api/v1/webhooks", json={"url": receiver.url, "org": "Nope"}, headers=node.h("admin"))
    assert r.status_code in (400, 404)
    r = node.client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": "short"}, headers=node.h("admin"))
    assert r.status_code in (400, 422)
