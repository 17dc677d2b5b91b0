"""Request limits (docs/limits.md): header count and size, URL length, body size and JSON depth; each refused
with its own 4xx before authentication or parsing, as a problem JSON (a TAXII error on /taxii2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import orjson
import pytest

from accord.api.limits import MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_URL_BYTES
from accord.api.nul import MAX_BODY_BYTES
from accord.core.limits import MAX_JSON_DEPTH
from tests.integration.api.conftest import Node

TAXII = {"Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"  # still every security header
    return response.json()


def test_header_count(node: Node) -> None:
    sent_by_client = 6  # host, accept, accept-encoding, connection, user-agent, authorization
    fits = {f"x-h{i}": "v" for i in range(MAX_HEADER_COUNT - sent_by_client)}
    assert node.client.get("/api/v1/me", headers={**node.bearer("alice"), **fits}).status_code == 200
    many = {f"x-h{i}": "v" for i in range(MAX_HEADER_COUNT + 1)}
    body = _problem(node.client.get("/api/v1/me", headers={**node.bearer("alice"), **many}), 431)
    assert f"at most {MAX_HEADER_COUNT}" in body["detail"]
    # refused before authentication: no credentials needed to be told
    _problem(node.client.get("/api/v1/me", headers=many), 431)


def test_header_size(node: Node) -> None:
    assert node.client.get("/api/v1/me", headers={**node.bearer("alice"), "x-big": "v" * 16_000}).status_code == 200
    big = {"x-big": "v" * (MAX_HEADER_BYTES + 1)}
    _problem(node.client.get("/api/v1/me", headers={**node.bearer("alice"), **big}), 431)


def test_url_length(node: Node) -> None:
    long_query = "x" * MAX_URL_BYTES
    _problem(node.client.get(f"/api/v1/objects?type={long_query}", headers=node.bearer("alice")), 414)
    r = node.client.get(f"/taxii2/api/collections/?q={long_query}", headers={**node.bearer("alice"), **TAXII})
    assert r.status_code == 414
    assert r.headers["content-type"].startswith("application/taxii+json")


def test_json_body_size_is_refused_from_its_declared_length(node: Node) -> None:
    headers = {**node.bearer("admin"), "Content-Type": "application/json", "Content-Length": str(MAX_BODY_BYTES + 1)}
    _problem(node.client.post("/api/v1/orgs", content=b'{"name": "x"}', headers=headers), 413)


def _nested(levels: int) -> object:
    inner: object = 1
    for _ in range(levels):
        inner = {"a": inner}
    return inner


def _org_count(node: Node) -> int:
    r = node.client.get("/api/v1/orgs", headers=node.bearer("admin"))
    assert r.status_code == 200
    return len(r.json())


@pytest.mark.parametrize("media", ["application/json", "application/merge-patch+json"])
def test_json_nesting_of_rest_bodies(node: Node, media: str) -> None:
    headers = {**node.bearer("admin"), "Content-Type": media}
    orgs = _org_count(node)
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/api/v1/orgs", "/api/v1/lookup", "/api/v1/collections"):
        body = _problem(node.client.post(path, content=deep, headers=headers), 400)
        assert body["detail"] == f"the JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels"
    # one level past the limit is refused as such (the top object is the first level) ...
    over = orjson.dumps({"name": "Deep", "x": _nested(MAX_JSON_DEPTH)})
    body = _problem(node.client.post("/api/v1/orgs", content=over, headers=headers), 400)
    assert "deeper than" in body["detail"]
    # ... at the limit, the route answers for the body itself (here: a field it does not know)
    at = orjson.dumps({"values": ["198.51.100.7"], "x": _nested(MAX_JSON_DEPTH - 1)})
    body = _problem(node.client.post("/api/v1/lookup", content=at, headers=headers), 422)
    assert body["detail"] == "body.x: Extra inputs are not permitted"
    # brackets inside strings are text, not nesting
    text = orjson.dumps({"name": "[{" * 100 + "Brackets"})
    r = node.client.post("/api/v1/orgs", content=text, headers=headers)
    assert "deeper than" not in r.text, r.text
    assert _org_count(node) == orgs + (1 if r.status_code == 201 else 0)


def test_json_nesting_in_taxii_envelopes(node: Node) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    made = node.client.post(
        "/api/v1/collections",
        json={"title": "Intel", "alias": "intel", "read": ["Alpha"], "write": ["Alpha"]},
        headers=node.bearer("admin"),
    )
    assert made.status_code == 201
    nested: object = 1
    for _ in range(40):
        nested = {"a": nested}
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "x_deep": nested,
    }
    r = node.client.post(
        f"/taxii2/api/collections/{made.json()['id']}/objects/",
        content=orjson.dumps({"objects": [indicator]}),
        headers={**node.bearer("alice"), **TAXII},
    )
    assert r.status_code == 202, r.text
    assert r.json()["failure_count"] == 1
    assert "nesting deeper than 32 levels" in r.json()["failures"][0]["message"]
    r = node.client.post(
        f"/taxii2/api/collections/{made.json()['id']}/objects/",
        content=b'{"objects": [' + deep + b"]}",
        headers={**node.bearer("alice"), **TAXII},
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/taxii+json")


def test_a_json_body_without_credentials_is_refused_before_it_is_read(node: Node) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:  # a chunked body: the server learns its size only by reading it
        for _ in range(64):
            read.append(1)
            yield b" " * 65_536
        yield b'{"values": ["198.51.100.7"]}'

    for media in ("application/json", "application/merge-patch+json"):
        read.clear()
        r = node.client.post("/api/v1/lookup", content=body(), headers={"Content-Type": media})
        _problem(r, 401)
        assert "WWW-Authenticate" in r.headers
        assert len(read) <= 2  # the client's first chunk or two are in flight; the rest was never asked for
    ok = node.client.post("/api/v1/lookup", json={"values": ["198.51.100.7"]}, headers=node.bearer("alice"))
    assert ok.status_code == 200
