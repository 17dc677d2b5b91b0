"""Case correlation beyond equal values: an address inside a linked CIDR (and a CIDR holding a linked address),
a subdomain of a linked domain (and a parent of one) show in the case's correlation summary and notify the
case's participants, through the policy (an organisation is told only what it may read on both sides)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from accord.accounts import service as accounts
from accord.accounts.repository import get_collection_by_alias
from accord.core.db import get_engine
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store.service import WriteContext, ingest
from tests.integration.joint.conftest import TS, Node

pytestmark = pytest.mark.usefixtures("db_url")


def _indicator(owner_ref: str, pattern: str, tlp: Tlp = Tlp.GREEN) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created_by_ref": owner_ref,
        "created": TS,
        "modified": TS,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": TS,
        "object_marking_refs": [tlp_marking_definition(tlp)["id"]],
    }


def _ref(org_name: str) -> str:
    with get_engine().begin() as conn:
        return str(accounts.get_org_by_name_or_raise(conn, org_name).stix_id)


def _store(org_name: str, alias: str, readers: list[str], obj: dict[str, Any]) -> None:
    with get_engine().begin() as conn:
        owner = accounts.get_org_by_name_or_raise(conn, org_name)
        coll = get_collection_by_alias(conn, alias)
        if coll is None:
            coll = accounts.create_collection(conn, alias, alias, readers=readers, writers=[org_name])
        assert ingest(conn, [obj], WriteContext(writer_org_id=owner.id, collection_id=coll.id)).stored == 1


def _feed(node: Node, who: str) -> list[str]:
    r = node.client.get("/api/v1/notifications", headers=node.h(who))
    assert r.status_code == 200, r.text
    return sorted(n["summary"] for n in r.json()["notifications"] if n["kind"] == "case.correlation")


def _summary(node: Node, cid: str, who: str, **params: str) -> list[tuple[str, str, str, list[str], list[str]]]:
    r = node.client.get(f"/api/v1/cases/{cid}/correlations", params=params, headers=node.h(who))
    assert r.status_code == 200, r.text
    return [
        (v["kind"], v["value"], v["match"], v.get("related", []), [f"{s['org']}:{s['objects']}" for s in v["seen_by"]])
        for v in r.json()["values"]
    ]


def test_addresses_in_linked_networks_and_subdomains_of_linked_domains_correlate_through_the_policy(
    node: Node,
) -> None:
    c, h = node.client, node.h
    alpha = _indicator(_ref("Alpha"), "[ipv4-addr:value = '45.137.21.0/24'] OR [domain-name:value = 'shadyvendor.net']")
    _store("Alpha", "alpha-own", ["Alpha"], alpha)
    body = {"title": "Shady", "participants": ["Bravo"], "object_ids": [alpha["id"]]}
    r = c.post("/api/v1/cases", json=body, headers=h("alice"))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]

    charlie = _ref("Charlie")
    # Charlie's content for everyone: an address inside the network, a subdomain; and one kept to itself.
    _store(
        "Charlie",
        "charlie-all",
        ["Alpha", "Bravo", "Charlie"],
        _indicator(charlie, "[ipv4-addr:value = '45.137.21.9']"),
    )
    _store("Charlie", "charlie-all", [], _indicator(charlie, "[domain-name:value = 'cdn.shadyvendor.net']"))
    _store("Charlie", "charlie-own", ["Charlie"], _indicator(charlie, "[ipv4-addr:value = '45.137.21.77']", Tlp.RED))
    # Unrelated: another network, a sibling domain, a domain merely ending in the same letters.
    _store("Charlie", "charlie-all", [], _indicator(charlie, "[ipv4-addr:value = '45.137.22.9']"))
    _store("Charlie", "charlie-all", [], _indicator(charlie, "[domain-name:value = 'notshadyvendor.net']"))

    for who in ("alice", "bob"):
        told = _feed(node, who)
        assert len(told) == 2, told
        assert any("45.137.21.9" in t and "45.137.21.0/24" in t for t in told)
        assert any("cdn.shadyvendor.net" in t for t in told)
        assert not any("45.137.21.77" in t or "45.137.22.9" in t or "notshadyvendor" in t for t in told)
    assert _feed(node, "carol") == []  # not a participant (and its own content)

    expected = [
        ("domain", "shadyvendor.net", "parent-domain", ["cdn.shadyvendor.net"], ["Charlie:1"]),
        ("ip", "45.137.21.0/24", "cidr", ["45.137.21.9"], ["Charlie:1"]),
    ]
    assert _summary(node, cid, "alice") == expected
    assert _summary(node, cid, "bob") == expected  # Bravo reads the linked indicator through the case
    assert _summary(node, cid, "alice", match="equal") == []
    assert "45.137.21.77" not in c.get(f"/api/v1/cases/{cid}/correlations", headers=h("alice")).text
    assert c.get(f"/api/v1/cases/{cid}/correlations", headers=h("carol")).status_code == 404
    # The correlation service over the linked objects finds the same values held by the same organisations.
    full = c.get(f"/api/v1/cases/{cid}/correlations", params={"match": "all"}, headers=h("alice")).json()["values"]
    assert sorted((v["value"], [s["org"] for s in v["seen_by"]]) for v in full) == [
        ("45.137.21.0/24", ["Charlie"]),
        ("shadyvendor.net", ["Charlie"]),
    ]


def test_a_network_holding_a_linked_address_and_a_parent_of_a_linked_domain_correlate(node: Node) -> None:
    c, h = node.client, node.h
    alpha = _indicator(_ref("Alpha"), "[ipv4-addr:value = '5.188.10.20'] OR [domain-name:value = 'a.b.darkhost.org']")
    _store("Alpha", "alpha-own", ["Alpha"], alpha)
    r = c.post("/api/v1/cases", json={"title": "Dark", "object_ids": [alpha["id"]]}, headers=h("alice"))
    cid = r.json()["id"]
    bravo = _ref("Bravo")
    _store("Bravo", "bravo-alpha", ["Alpha", "Bravo"], _indicator(bravo, "[ipv4-addr:value = '5.188.10.0/23']"))
    _store("Bravo", "bravo-alpha", [], _indicator(bravo, "[domain-name:value = 'darkhost.org']"))
    told = _feed(node, "alice")
    assert len(told) == 2, told
    assert _summary(node, cid, "alice") == [
        ("domain", "a.b.darkhost.org", "parent-domain", ["darkhost.org"], ["Bravo:1"]),
        ("ip", "5.188.10.20", "cidr", ["5.188.10.0/23"], ["Bravo:1"]),
    ]
    assert _feed(node, "bob") == []  # Bravo takes no part in the case
