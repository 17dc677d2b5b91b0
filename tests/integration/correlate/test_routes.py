"""The correlation routes through the ASGI app, and `accord lookup` through Typer."""

from __future__ import annotations

import orjson
import typer
from typer.testing import CliRunner

from accord.cli.lookup_cmd import lookup_cmd
from accord.core.db import get_engine
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_collection
from tests.integration.api.conftest import Node
from tests.integration.correlate.conftest import ind


def _seed(target: Node) -> dict[str, str]:
    from accord.accounts import service as accounts

    with get_engine().begin() as conn:
        shared = make_collection(conn, "shared", readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"])
        alpha = accounts.get_org_by_name_or_raise(conn, "Alpha")
        bravo = accounts.get_org_by_name_or_raise(conn, "Bravo")
        a = ind("[domain-name:value = 'evil-actor.com']")
        b = ind("[url:value = 'https://cdn.evil-actor.com/x.js']")
        secret = ind("[domain-name:value = 'evil-actor.com']", tlp=Tlp.RED)
        ingest(conn, [a, b], WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
        ingest(conn, [secret], WriteContext(writer_org_id=bravo.id, collection_id=shared.id))
    return {"a": a["id"], "b": b["id"], "secret": secret["id"]}


def test_lookup_route(node: Node) -> None:
    ids = _seed(node)
    res = node.client.post("/api/v1/lookup", json={"values": ["evil-actor[.]com"]}, headers=node.bearer("alice"))
    assert res.status_code == 200
    [item] = res.json()["results"][0]["values"]
    assert {m["id"]: m["match"] for m in item["matches"]} == {ids["a"]: "exact", ids["b"]: "parent-domain"}
    res = node.client.post("/api/v1/lookup", json={"values": ["evil-actor.com"]}, headers=node.bearer("bob"))
    assert {m["id"] for m in res.json()["results"][0]["values"][0]["matches"]} == set(ids.values())
    assert node.client.post("/api/v1/lookup", json={"values": ["x"]}).status_code == 401
    assert node.client.post("/api/v1/lookup", json={"values": "x"}, headers=node.bearer("alice")).status_code == 422
    too_many = {"values": ["1.2.3.4"] * 10_001}
    assert node.client.post("/api/v1/lookup", json=too_many, headers=node.bearer("alice")).status_code == 413
    nul = node.client.post(
        "/api/v1/lookup", json={"values": ["ok.example", "evil\u0000.com"]}, headers=node.bearer("alice")
    )
    assert nul.status_code == 400
    assert "NUL character" in nul.text


def test_object_and_report_correlation_routes(node: Node) -> None:
    ids = _seed(node)
    res = node.client.get(f"/api/v1/objects/{ids['a']}/correlations", headers=node.bearer("alice"))
    assert res.status_code == 200
    assert [(c["id"], c["match"]) for c in res.json()["correlations"]] == [(ids["b"], "parent-domain")]
    # unreadable and missing objects answer alike (R7)
    hidden = node.client.get(f"/api/v1/objects/{ids['secret']}/correlations", headers=node.bearer("alice"))
    missing = node.client.get(f"/api/v1/objects/{ids['secret'][:-4]}ffff/correlations", headers=node.bearer("alice"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].startswith("no object")
    res = node.client.get(f"/api/v1/reports/{ids['a']}/correlations", headers=node.bearer("alice"))
    assert res.status_code == 404  # not a report


def test_sighting_route(node: Node) -> None:
    _seed(node)
    body = {"value": "45.137.21.9", "collection": "shared", "count": 2}
    res = node.client.post("/api/v1/sightings", json=body, headers=node.bearer("alice"))
    assert res.status_code == 201, res.text
    assert res.json()["indicator_created"] is True
    assert node.client.post("/api/v1/sightings", json=body, headers=node.bearer("rita")).status_code == 403
    lookup = node.client.post("/api/v1/lookup", json={"values": ["45.137.21.9"]}, headers=node.bearer("bob"))
    [match] = lookup.json()["results"][0]["values"][0]["matches"]
    assert match["owner"] == "Alpha"
    assert match["sightings"] == 1
    assert match["expired"] is False


def test_sighting_into_a_collection_the_caller_cannot_see_is_404_like_a_missing_one(node: Node) -> None:
    _seed(node)
    with get_engine().begin() as conn:
        make_collection(conn, "bravo-only", readers=["Bravo"], writers=["Bravo"])
        make_collection(conn, "bravo-writes", readers=["Alpha", "Bravo"], writers=["Bravo"])
    body = {"value": "45.137.21.9"}
    hidden = node.client.post(
        "/api/v1/sightings", json=body | {"collection": "bravo-only"}, headers=node.bearer("alice")
    )
    missing = node.client.post("/api/v1/sightings", json=body | {"collection": "no-such"}, headers=node.bearer("alice"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"
    assert hidden.json()["detail"].replace("bravo-only", "X") == missing.json()["detail"].replace("no-such", "X")
    assert hidden.json()["title"] == missing.json()["title"]
    # A collection Alpha reads but may not write: it knows it exists, so the refusal may say why.
    read_only = node.client.post(
        "/api/v1/sightings", json=body | {"collection": "bravo-writes"}, headers=node.bearer("alice")
    )
    assert read_only.status_code == 403
    assert (
        node.client.post(
            "/api/v1/sightings", json=body | {"collection": "bravo-only"}, headers=node.bearer("bob")
        ).status_code
        == 201
    )
    lookup = node.client.post("/api/v1/lookup", json={"values": ["45.137.21.9"]}, headers=node.bearer("bob"))
    [match] = lookup.json()["results"][0]["values"][0]["matches"]
    assert match["sightings"] == 1  # only Bravo's; the refused ones stored nothing


def test_lookup_cli(node: Node) -> None:
    ids = _seed(node)
    app = typer.Typer()
    app.command("lookup")(lookup_cmd)
    app.command("other")(lambda: None)  # keep Typer from collapsing the single command into the app
    runner = CliRunner()
    res = runner.invoke(app, ["lookup", "evil-actor.com", "--json"])
    assert res.exit_code == 0, res.output
    found = {m["id"] for m in orjson.loads(res.stdout)["results"][0]["values"][0]["matches"]}
    assert found == set(ids.values())  # the operator (admin of the host org) reads everything
    res = runner.invoke(app, ["lookup", "evil-actor.com", "--json", "--as", "alice@alpha.example"])
    assert {m["id"] for m in orjson.loads(res.stdout)["results"][0]["values"][0]["matches"]} == {ids["a"], ids["b"]}
    res = runner.invoke(app, ["lookup", "hxxps://cdn.evil-actor[.]com/x.js", "nothing-here"])
    assert res.exit_code == 0
    assert "url-host" in res.stdout
    assert "not a recognised value" in res.stdout
