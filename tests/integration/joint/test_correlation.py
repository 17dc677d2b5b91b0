"""Case correlation: a linked value also held by a partner, and linked in another case, shows who holds it and
which case; what the caller may not read never shows."""

from __future__ import annotations

import pytest

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.integration.joint.conftest import Node, make_indicator

pytestmark = pytest.mark.usefixtures("db_url")


def _store(org_name: str, alias: str, readers: list[str], obj: dict) -> None:
    with get_engine().begin() as conn:
        owner = accounts.get_org_by_name_or_raise(conn, org_name)
        coll = accounts.create_collection(conn, alias, alias, readers=readers, writers=[org_name])
        assert ingest(conn, [obj], WriteContext(writer_org_id=owner.id, collection_id=coll.id)).stored == 1


def _stix_id(org_name: str) -> str:
    with get_engine().begin() as conn:
        return str(accounts.get_org_by_name_or_raise(conn, org_name).stix_id)


def test_linked_values_seen_elsewhere_show_who_and_which_case_through_the_policy(node: Node) -> None:
    c, h = node.client, node.h
    # Bravo shares a GREEN indicator of the same address with Alpha; Charlie keeps one to itself.
    bravo_ind = make_indicator(_stix_id("Bravo"), "45.137.21.9", Tlp.GREEN)
    _store("Bravo", "bravo-shared", ["Bravo", "Alpha"], bravo_ind)
    charlie_ind = make_indicator(_stix_id("Charlie"), "45.137.21.9", Tlp.GREEN)
    _store("Charlie", "charlie-own", ["Charlie"], charlie_ind)
    # Bravo also works a case of its own (with Alpha) that links its indicator.
    other = c.post(
        "/api/v1/cases",
        json={"title": "Bravo's case", "participants": ["Alpha"], "object_ids": [bravo_ind["id"]]},
        headers=h("bob"),
    ).json()["id"]
    hidden = c.post(
        "/api/v1/cases", json={"title": "Charlie's case", "object_ids": [charlie_ind["id"]]}, headers=h("carol")
    ).json()["id"]
    alpha_ind = make_indicator(_stix_id("Alpha"), "45.137.21.9")  # not a documentation address: those never correlate
    _store("Alpha", "alpha-own", ["Alpha"], alpha_ind)
    cid = c.post(
        "/api/v1/cases", json={"title": "Alpha's case", "object_ids": [alpha_ind["id"]]}, headers=h("alice")
    ).json()["id"]

    got = c.get(f"/api/v1/cases/{cid}/correlations", headers=h("alice"))
    assert got.status_code == 200, got.text
    values = got.json()["values"]
    assert [v["value"] for v in values] == ["45.137.21.9"]
    assert [(s["org"], s["objects"]) for s in values[0]["seen_by"]] == [("Bravo", 1)]  # Charlie's never shows
    assert values[0]["cases"] == [{"id": other, "title": "Bravo's case"}]  # Charlie's case never shows
    assert hidden not in got.text
    assert charlie_ind["id"] not in got.text
    assert c.get(f"/api/v1/cases/{cid}/correlations", headers=h("carol")).status_code == 404
    # The full matching (IP ranges, parent domains too) agrees here, under the same policy.
    full = c.get(f"/api/v1/cases/{cid}/correlations", params={"match": "all"}, headers=h("alice"))
    assert full.status_code == 200, full.text
    assert [(v["value"], [(s["org"], s["objects"]) for s in v["seen_by"]]) for v in full.json()["values"]] == [
        ("45.137.21.9", [("Bravo", 1)])
    ]
    assert full.json()["values"][0]["cases"] == [{"id": other, "title": "Bravo's case"}]
    odd = c.get(f"/api/v1/cases/{cid}/correlations", params={"match": "nearby"}, headers=h("alice"))
    assert odd.status_code in (400, 422), odd.text
