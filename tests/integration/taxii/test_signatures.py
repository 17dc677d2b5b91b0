"""Every TAXII response body carries X-Accord-Signature, verifiable with the node's public key."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from accord.core import keys
from accord.core.settings import get_settings
from tests.builders import make_indicator
from tests.integration.taxii.conftest import Community, post_envelope


def assert_signed(response: Response) -> None:
    header = response.headers.get(keys.SIGNATURE_HEADER)
    keys.verify_body(keys.public_key_text(), response.content, header)


def test_pages_resources_and_errors_are_signed(client: TestClient, community: Community) -> None:
    alice = community.auth["alice"]
    posted = post_envelope(client, alice, community.url(community.shared, "objects/"), make_indicator())
    assert posted.status_code == 202
    assert_signed(posted)
    for url in (
        "/taxii2/",
        "/taxii2/api/",
        "/taxii2/api/collections/",
        community.url(community.shared),
        community.url(community.shared, "objects/"),
        community.url(community.shared, "manifest/"),
    ):
        response = client.get(url, headers=alice)
        assert response.status_code == 200, url
        assert_signed(response)
    errors = [
        client.get(community.url(community.alpha_only, "objects/"), headers=community.auth["bob"]),  # 404
        client.get("/taxii2/api/collections/", headers={"Accept": alice["Accept"]}),  # 401
        client.get("/taxii2/api/collections", headers=alice, follow_redirects=False),  # 308
        client.get("/taxii2/", headers={**alice, "Accept": "text/html"}),  # 406
    ]
    assert [r.status_code for r in errors] == [404, 401, 308, 406]
    for response in errors:
        assert_signed(response)


def test_a_changed_body_or_another_key_does_not_verify(client: TestClient, community: Community) -> None:
    response = client.get("/taxii2/", headers=community.auth["alice"])
    header = response.headers[keys.SIGNATURE_HEADER]
    with pytest.raises(keys.SignatureError, match="bad signature"):
        keys.verify_body(keys.public_key_text(), response.content.replace(b"Accord", b"Accorb"), header)


def test_signing_can_be_turned_off(client: TestClient, community: Community, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_SIGN_RESPONSES", "false")
    get_settings.cache_clear()
    response = client.get("/taxii2/", headers=community.auth["alice"])
    assert response.status_code == 200
    assert keys.SIGNATURE_HEADER not in response.headers
