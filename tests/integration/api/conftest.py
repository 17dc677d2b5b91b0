"""An ASGI client on a fresh node with two organisations and their users."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from accord.accounts import service as accounts
from accord.api.app import create_app
from accord.core.db import get_engine
from accord.demo.service import ensure_host_org

PASSWORD = "correct horse battery"


@dataclass
class Node:
    client: TestClient
    tokens: dict[str, str]

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def basic(email: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{secret}".encode()).decode()}


@pytest.fixture
def node(db_url) -> Node:
    with get_engine().begin() as conn:
        ensure_host_org(conn)
        host = accounts.host_org(conn)
        accounts.create_org(conn, "Alpha", actor="test")
        accounts.create_org(conn, "Bravo", actor="test")
        accounts.create_user(conn, "admin@node.example", host.name, "admin", PASSWORD)
        accounts.create_user(conn, "alice@alpha.example", "Alpha", "analyst", PASSWORD)
        accounts.create_user(conn, "bob@bravo.example", "Bravo", "analyst", PASSWORD)
        accounts.create_user(conn, "rita@alpha.example", "Alpha", "reader", PASSWORD)
        tokens = {
            "admin": accounts.create_token(conn, "admin@node.example"),
            "admin-ro": accounts.create_token(conn, "admin@node.example", read_only=True),
            "alice": accounts.create_token(conn, "alice@alpha.example"),
            "bob": accounts.create_token(conn, "bob@bravo.example"),
            "rita": accounts.create_token(conn, "rita@alpha.example"),
        }
    return Node(TestClient(create_app(), raise_server_exceptions=False), tokens)
