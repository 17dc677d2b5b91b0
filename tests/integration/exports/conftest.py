"""A node with the demo community loaded, an ASGI client and the demo users' tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from accord.accounts import service as accounts
from accord.api.app import create_app
from accord.core.db import get_engine
from accord.demo.service import ADMIN_EMAIL, load_demo

# The demo's content is dated 2025-2026; scores are computed at a fixed instant so that golden files hold.
NOW_US = 1_767_225_600_000_000 + 200 * 86_400_000_000  # 2026-07-20T00:00:00Z


@dataclass
class DemoNode:
    client: TestClient
    tokens: dict[str, str]

    def auth(self, who: str, scheme: str = "Bearer") -> dict[str, str]:
        return {"Authorization": f"{scheme} {self.tokens[who]}"}


@pytest.fixture
def demo(db_url: str) -> DemoNode:
    with get_engine().begin() as conn:
        load_demo(conn)
        tokens = {
            "admin": accounts.create_token(conn, ADMIN_EMAIL),
            "alice": accounts.create_token(conn, "alice@alpha.example"),
            "bob": accounts.create_token(conn, "bob@bravo.example"),
        }
    return DemoNode(TestClient(create_app(), raise_server_exceptions=False), tokens)
