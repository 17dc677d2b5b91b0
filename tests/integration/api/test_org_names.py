"""Organisation and sharing-group names resolve to exactly one row, however they are spelled, on both databases."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.core.errors import Conflict
from tests.integration.api.conftest import Node


def _post(node: Node, path: str, body: dict[str, Any]) -> Any:
    return node.client.post(f"/api/v1/{path}", json=body, headers=node.bearer("admin"))


def _conflict(response: Any) -> str:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["detail"])


def _orgs(node: Node) -> list[str]:
    return [o["name"] for o in node.client.get("/api/v1/orgs", headers=node.bearer("admin")).json()]


def test_one_organisation_however_its_name_is_spelled(node: Node) -> None:
    assert _post(node, "orgs", {"name": "ÄRGER CERT"}).status_code == 201
    assert "already exists" in _conflict(_post(node, "orgs", {"name": "ÄRGER CERT"}))
    for spelling in ("ärger cert", "  Ärger   Cert ", "A\u0308RGER CERT", "ÄRGER\u00a0CERT"):
        assert "'ÄRGER CERT'" in _conflict(_post(node, "orgs", {"name": spelling})), spelling
    assert sum(name.casefold() == "ärger cert" for name in _orgs(node)) == 1
    # Every lookup by name finds that one organisation.
    user = _post(node, "users", {"email": "u@aerger.example", "org": "ärger cert", "role": "analyst"})
    assert user.status_code == 201, user.text
    assert user.json()["org"] == "ÄRGER CERT"
    users = node.client.get("/api/v1/users", headers=node.bearer("admin")).json()
    assert {u["org"] for u in users if u["email"] == "u@aerger.example"} == {"ÄRGER CERT"}


def test_a_grant_naming_either_spelling_goes_to_the_one_organisation(node: Node) -> None:
    assert _post(node, "orgs", {"name": "ÄRGER CERT"}).status_code == 201
    created = _post(
        node, "collections", {"title": "Ä", "alias": "aerger", "read": ["ärger cert"], "write": ["ÄRGER CERT"]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["read"] == created.json()["write"] == ["ÄRGER CERT"]
    group = _post(node, "groups", {"name": "Umlauts", "orgs": ["ärger cert", "Alpha"]})
    assert group.status_code == 201, group.text
    assert group.json()["orgs"] == ["Alpha", "ÄRGER CERT"]
    with get_engine().begin() as conn:
        accounts.create_user(conn, "analyst@aerger.example", "Ärger Cert", "analyst", None)
        token = accounts.create_token(conn, "analyst@aerger.example")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/taxii+json;version=2.1"}
    listed = node.client.get("/taxii2/api/collections/", headers=headers).json()["collections"]
    assert [(c["alias"], c["can_read"], c["can_write"]) for c in listed] == [("aerger", True, True)]


def test_sharing_group_names_are_unique_by_the_same_key(node: Node) -> None:
    assert _post(node, "groups", {"name": "Benelux", "orgs": ["Alpha"]}).status_code == 201
    assert "'Benelux'" in _conflict(_post(node, "groups", {"name": "BENELUX", "orgs": ["Bravo"]}))
    created = _post(node, "collections", {"title": "B", "alias": "benelux", "read": ["benelux"]})
    assert created.status_code == 201, created.text
    assert created.json()["read"] == ["group:Benelux"]
    # One name never means both an organisation and a group: grants could not tell which is meant.
    assert "organisation" in _conflict(_post(node, "groups", {"name": "alpha"}))
    assert "sharing group" in _conflict(_post(node, "orgs", {"name": "BENELUX"}))


def test_a_name_taken_by_a_concurrent_transaction_is_a_conflict(node: Node) -> None:
    engine = get_engine()
    outcome: list[BaseException | None] = []

    def second_writer() -> None:
        try:
            with engine.begin() as conn:
                accounts.create_org(conn, "delta cert", actor="test")
            outcome.append(None)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    with engine.begin() as conn:
        accounts.create_org(conn, "DELTA CERT", actor="test")
        thread = threading.Thread(target=second_writer)
        thread.start()
        # Let the second writer get as far as it can: on PostgreSQL, its INSERT waits on the unique index for this
        # transaction; on SQLite, its BEGIN IMMEDIATE waits for the write lock.
        if engine.dialect.name == "postgresql":
            with engine.connect() as probe:
                for _ in range(600):  # up to 30 s: under CI load the second writer can take a while to start
                    waiting = probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                        )
                    ).scalar_one()
                    if waiting:
                        break
                    time.sleep(0.05)
                assert waiting, "the second writer never waited on the unique index"
        else:
            time.sleep(0.3)
    thread.join(60)
    assert len(outcome) == 1
    assert isinstance(outcome[0], Conflict), outcome
    assert _orgs(node).count("DELTA CERT") == 1
    assert "delta cert" not in _orgs(node)


@pytest.mark.parametrize("name", ["", "   ", "\u200b", "x" * 201])
def test_a_name_that_cannot_be_one_is_400(node: Node, name: str) -> None:
    response = _post(node, "orgs", {"name": name})
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
