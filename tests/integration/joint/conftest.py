"""A node with three organisations (Alpha owns cases, Bravo takes part, Charlie is a bystander) and their users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from accord.accounts import service as accounts
from accord.api.app import create_app
from accord.core.db import get_engine
from accord.demo.service import ensure_host_org
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store.service import WriteContext, ingest

PASSWORD = "correct horse battery"
USERS = {
    "admin": ("admin@node.example", None, "admin"),
    "alice": ("alice@alpha.example", "Alpha", "analyst"),
    "anna": ("anna@alpha.example", "Alpha", "analyst"),
    "rita": ("rita@alpha.example", "Alpha", "reader"),
    "bob": ("bob@bravo.example", "Bravo", "analyst"),
    "carol": ("carol@charlie.example", "Charlie", "analyst"),
}
TS = "2026-11-01T10:00:00.000Z"


@dataclass
class Node:
    client: TestClient
    tokens: dict[str, str]
    report_id: str
    indicator_ids: list[str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def make_indicator(owner_ref: str, value: str, tlp: Tlp = Tlp.AMBER) -> dict[str, Any]:
    """An indicator of one IPv4 address owned by an organisation."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created_by_ref": owner_ref,
        "created": TS,
        "modified": TS,
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": TS,
        "object_marking_refs": [tlp_marking_definition(tlp)["id"]],
    }


@pytest.fixture
def node(db_url: str) -> Node:
    with get_engine().begin() as conn:
        ensure_host_org(conn)
        host = accounts.host_org(conn)
        orgs = {name: accounts.create_org(conn, name, actor="test") for name in ("Alpha", "Bravo", "Charlie")}
        for email, org_name, role in USERS.values():
            accounts.create_user(conn, email, org_name or host.name, role, PASSWORD)
        tokens = {who: accounts.create_token(conn, email) for who, (email, _, _) in USERS.items()}
        coll = accounts.create_collection(conn, "Alpha intel", "alpha-intel", readers=["Alpha"], writers=["Alpha"])
        alpha = orgs["Alpha"].stix_id
        indicators = [make_indicator(alpha, f"203.0.113.{i}") for i in (1, 2)]
        report = {
            "type": "report",
            "spec_version": "2.1",
            "id": f"report--{uuid.uuid4()}",
            "created_by_ref": alpha,
            "created": TS,
            "modified": TS,
            "name": "Campaign against the port",
            "published": TS,
            "object_refs": [i["id"] for i in indicators],
            "object_marking_refs": [tlp_marking_definition(Tlp.AMBER)["id"]],
        }
        report_ctx = WriteContext(writer_org_id=orgs["Alpha"].id, collection_id=coll.id)
        assert ingest(conn, [*indicators, report], report_ctx).stored == 3
    client = TestClient(create_app(), raise_server_exceptions=False)
    return Node(client, tokens, report["id"], [i["id"] for i in indicators])
