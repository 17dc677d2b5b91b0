"""A small community for TAXII route tests: two organisations, their users and tokens, three collections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accord.accounts import service as accounts
from accord.api.app import create_app
from accord.core.settings import get_settings
from accord.sharing.policy import Principal
from accord.sharing.repository import principal_for
from accord.taxii.media import TAXII_MEDIA
from tests.builders import make_collection, make_org, make_user

TAXII_HEADERS = {"Accept": TAXII_MEDIA}


@dataclass
class Community:
    """Who is who; `auth[name]` are request headers for that user."""

    auth: dict[str, dict[str, str]]
    users: dict[str, Any]
    orgs: dict[str, Any]
    shared: Any  # Alpha and Beta read and write
    alpha_only: Any  # Alpha reads and writes; Beta sees nothing
    drop: Any  # Beta may write but not read
    engine: Engine

    def principal(self, name: str) -> Principal:
        """The Principal of one user (the oracle's view)."""
        u = self.users[name]
        with self.engine.connect() as conn:
            return principal_for(conn, org_id=u.org_id, role=u.role, user_id=u.id, email=u.email)

    def url(self, coll: Any, tail: str = "") -> str:
        """The URL of a collection resource (tail like 'objects/')."""
        return f"/taxii2/api/collections/{coll.uuid}/{tail}"


@pytest.fixture
def community(engine: Engine) -> Community:
    """Orgs Alpha and Beta with analysts, a reader, an admin, and read-only token of an analyst."""
    with engine.begin() as conn:
        orgs = {"alpha": make_org(conn, "Alpha"), "beta": make_org(conn, "Beta")}
        users = {
            "alice": make_user(conn, "Alpha", "analyst", "alice@alpha.example"),
            # Only Alice has a password (Basic auth tests); hashing one per user would slow every test.
            "bob": make_user(conn, "Beta", "analyst", "bob@beta.example", password=None),
            "rita": make_user(conn, "Alpha", "reader", "rita@alpha.example", password=None),
            "root": make_user(conn, "Beta", "admin", "root@beta.example", password=None),
        }
        shared = make_collection(conn, "shared", readers=["Alpha", "Beta"], writers=["Alpha", "Beta"])
        alpha_only = make_collection(conn, "alpha-only", readers=["Alpha"], writers=["Alpha"])
        drop = make_collection(conn, "drop", readers=["Alpha"], writers=["Beta"])
        auth = {}
        for name, u in users.items():
            token = accounts.create_token(conn, u.email, actor="test")
            auth[name] = {"Authorization": f"Bearer {token}", **TAXII_HEADERS}
        ro = accounts.create_token(conn, users["alice"].email, read_only=True, actor="test")
        auth["alice_ro"] = {"Authorization": f"Bearer {ro}", **TAXII_HEADERS}
    return Community(auth, users, orgs, shared, alpha_only, drop, engine)


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The ASGI app (no background job runner: tests run jobs explicitly)."""
    monkeypatch.setenv("ACCORD_RUN_JOBS", "0")
    get_settings.cache_clear()  # settings are read once per process
    with TestClient(create_app(), raise_server_exceptions=True) as c:
        yield c


def post_envelope(client: TestClient, headers: dict[str, str], url: str, *objects: dict[str, Any]) -> Any:
    """POST an envelope and return the response."""
    body = {"objects": list(objects)}
    return client.post(url, json=body, headers={**headers, "Content-Type": TAXII_MEDIA})
