"""A token's last use: shown by the REST token list and `accord token list`, written at most once a minute per
token (never a write per request)."""

from __future__ import annotations

from sqlalchemy import select, update

from accord.accounts import authentication
from accord.core.clock import now_us
from accord.core.db import get_engine
from accord.models.accounts import api_token
from tests.integration.api.conftest import basic


def _listed(node, who: str) -> dict:
    prefix = node.tokens[who].split("_")[1]
    rows = node.client.get("/api/v1/tokens", headers=node.bearer("admin")).json()
    return next(r for r in rows if r["prefix"] == prefix)


def _stored(node, who: str) -> int | None:
    with get_engine().connect() as conn:
        prefix = node.tokens[who].split("_")[1]
        return conn.execute(select(api_token.c.last_used_us).where(api_token.c.prefix == prefix)).scalar_one()


def test_last_use_is_listed_and_written_at_most_once_a_minute(node, monkeypatch):
    monkeypatch.setattr(authentication, "_noted", {})
    assert _listed(node, "bob")["last_used_us"] is None
    before = now_us()
    assert node.client.get("/api/v1/me", headers=node.bearer("bob")).status_code == 200
    first = _listed(node, "bob")["last_used_us"]
    assert first is not None
    assert before <= first <= now_us()
    assert _listed(node, "bob")["created_us"] < first

    for _ in range(3):  # within the minute: no write, in this process ...
        assert node.client.get("/api/v1/me", headers=node.bearer("bob")).status_code == 200
    assert _stored(node, "bob") == first
    monkeypatch.setattr(authentication, "_noted", {})  # ... nor from another process (a fresh memory)
    assert node.client.get("/api/v1/me", headers=basic("bob@bravo.example", node.tokens["bob"])).status_code == 200
    assert _stored(node, "bob") == first

    with get_engine().begin() as conn:  # a minute and more later, the next use is written
        conn.execute(update(api_token).where(api_token.c.last_used_us == first).values(last_used_us=first - 61_000_000))
    monkeypatch.setattr(authentication, "_noted", {})
    assert node.client.get("/api/v1/me", headers={"Authorization": f"Token {node.tokens['bob']}"}).status_code == 200
    assert _stored(node, "bob") > first


def test_failed_and_password_requests_write_no_last_use(node, monkeypatch):
    monkeypatch.setattr(authentication, "_noted", {})
    prefix = node.tokens["bob"].split("_")[1]
    assert node.client.get("/api/v1/me", headers=basic("bob@bravo.example", "correct horse battery")).status_code == 200
    wrong = f"acc_{prefix}_not-the-secret"
    assert node.client.get("/api/v1/me", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    assert _stored(node, "bob") is None
