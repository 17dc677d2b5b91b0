"""Issue 23 (part): the `Token` scheme, bounded token expiries, security headers on every response."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Node

SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_the_token_scheme_is_accepted_like_bearer(node: Node) -> None:
    token = node.tokens["alice"]
    assert node.client.get("/api/v1/me", headers={"Authorization": f"Token {token}"}).json()["email"] == (
        "alice@alpha.example"
    )
    r = node.client.get("/taxii2/", headers={"Authorization": f"Token {token}", "Accept": "application/taxii+json"})
    assert r.status_code == 200
    assert node.client.get("/api/v1/me", headers={"Authorization": "Token acc_garbage"}).status_code == 401
    assert node.client.get("/api/v1/me", headers={"Authorization": "Digest x"}).status_code == 401


@pytest.mark.parametrize("days", [0, 36_501, 10**30, 2**63])
def test_an_expiry_out_of_range_is_a_422_not_a_500(node: Node, days: int) -> None:
    r = node.client.post(
        "/api/v1/tokens", json={"email": "alice@alpha.example", "expires_days": days}, headers=node.bearer("admin")
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("GET", "/healthz", False),
        ("GET", "/api/v1/me", True),
        ("GET", "/api/v1/me", False),  # 401
        ("GET", "/api/v1/nowhere", True),  # 404
        ("GET", "/taxii2/", True),
        ("GET", "/taxii2", True),  # 308
    ],
)
def test_every_response_carries_the_security_headers(node: Node, method: str, path: str, auth: bool) -> None:
    headers = {"Accept": "application/taxii+json;version=2.1", **(node.bearer("alice") if auth else {})}
    r = node.client.request(method, path, headers=headers, follow_redirects=False)
    for name, value in SECURITY.items():
        assert r.headers.get(name) == value, (path, r.status_code, name)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp


def test_a_huge_json_body_is_refused_before_it_is_read(node: Node) -> None:
    from accord.api.nul import MAX_BODY_BYTES

    big = b'{"values": ["' + b"a" * (MAX_BODY_BYTES + 10) + b'"]}'
    for headers in ({}, node.bearer("alice")):  # before authentication too
        r = node.client.post("/api/v1/lookup", content=big, headers={"Content-Type": "application/json", **headers})
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"

    def chunks():  # no Content-Length: refused once it grows past the limit
        for _ in range(MAX_BODY_BYTES // 65_536 + 2):
            yield b" " * 65_536

    # (without credentials it is not read at all: test_request_limits.py)
    headers = {"Content-Type": "application/json", **node.bearer("alice")}
    r = node.client.post("/api/v1/lookup", content=chunks(), headers=headers)
    assert r.status_code == 413


def test_a_nul_in_any_json_media_type_is_refused(node: Node) -> None:
    body = b'{"name": "evil\\u0000org"}'
    for media in ("application/json", "application/merge-patch+json", "application/json; charset=utf-8"):
        r = node.client.post("/api/v1/orgs", content=body, headers={"Content-Type": media, **node.bearer("admin")})
        assert r.status_code == 400, media
        assert "NUL" in r.json()["detail"]
