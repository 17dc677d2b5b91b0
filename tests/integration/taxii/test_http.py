"""Checklist 1-11: URLs, media types, errors, authentication, discovery and API roots."""

from __future__ import annotations

import base64

import pytest

from tests.builders import make_indicator
from tests.integration.taxii.conftest import TAXII_HEADERS, post_envelope

MEDIA = "application/taxii+json;version=2.1"


def assert_taxii_error(r, status: int) -> None:
    assert r.status_code == status
    assert r.headers["content-type"] == MEDIA
    body = r.json()
    assert body["title"]
    assert body["http_status"] == str(status)


def test_missing_slash_redirects_permanently_never_404(client, community):
    r = client.get("/taxii2/api/collections", headers=community.auth["alice"], follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == "/taxii2/api/collections/"
    assert r.headers["content-type"] == MEDIA
    r = client.get("/taxii2", headers=community.auth["alice"], follow_redirects=False)
    assert r.status_code == 308
    r = client.get(community.url(community.shared, "objects") + "?limit=1", headers=community.auth["alice"])
    assert r.status_code == 200  # followed, query kept


@pytest.mark.parametrize(
    "accept",
    [
        MEDIA,
        "application/taxii+json",
        "*/*",
        "application/taxii+json; version=2.1",
        "application/stix+json;version=2.1, application/taxii+json;version=2.1",
        "text/html;q=0.9, application/taxii+json;q=0.5",
        "application/*",
    ],
)
def test_acceptable_media_types(client, community, accept):
    headers = {**community.auth["alice"], "Accept": accept}
    r = client.get("/taxii2/", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == MEDIA


@pytest.mark.parametrize(
    "accept", ["text/html", "application/taxii+json;version=2.0", "application/xml", MEDIA + ";q=0"]
)
def test_unproducible_media_types_get_406(client, community, accept):
    r = client.get("/taxii2/api/collections/", headers={**community.auth["alice"], "Accept": accept})
    assert_taxii_error(r, 406)


@pytest.mark.parametrize(
    "ctype",
    [MEDIA, "application/taxii+json; version=2.1", "Application/TAXII+JSON;Version=2.1", "application/taxii+json"],
)
def test_post_content_type_variants_accepted(client, community, ctype):
    url = community.url(community.shared, "objects/")
    headers = {**community.auth["alice"], "Content-Type": ctype}
    r = client.post(url, content=b'{"objects": []}', headers=headers)
    assert r.status_code == 202
    assert r.json()["status"] == "complete"


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/stix+json;version=2.1", None])
def test_post_wrong_content_type_415(client, community, ctype):
    url = community.url(community.shared, "objects/")
    headers = dict(community.auth["alice"])
    if ctype:
        headers["Content-Type"] = ctype
    r = client.post(url, content=b'{"objects": []}', headers=headers)
    assert_taxii_error(r, 415)


def test_unknown_paths_and_methods_are_taxii_errors(client, community):
    assert_taxii_error(client.get("/taxii2/nope/", headers=community.auth["alice"]), 404)
    assert_taxii_error(client.get("/taxii2/api/nothing/here/", headers=community.auth["alice"]), 404)
    assert_taxii_error(client.put("/taxii2/api/collections/", headers=community.auth["alice"]), 405)
    assert_taxii_error(client.get("/taxii2/api/status/unknown/", headers=community.auth["alice"]), 404)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic " + base64.b64encode(b"alice@alpha.example:wrong password").decode()},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Digest abc"},
    ],
)
def test_bad_credentials_401_with_challenge(client, community, headers):
    r = client.get("/taxii2/api/collections/", headers={**TAXII_HEADERS, **headers})
    assert_taxii_error(r, 401)
    assert "Basic" in r.headers["www-authenticate"]


def test_basic_auth_with_password_and_with_token(client, community):
    creds = base64.b64encode(b"alice@alpha.example:correct horse battery").decode()
    r = client.get("/taxii2/", headers={**TAXII_HEADERS, "Authorization": f"Basic {creds}"})
    assert r.status_code == 200
    token = community.auth["alice"]["Authorization"].split()[1]
    creds = base64.b64encode(f"alice@alpha.example:{token}".encode()).decode()
    r = client.get("/taxii2/api/collections/", headers={**TAXII_HEADERS, "Authorization": f"Basic {creds}"})
    assert r.status_code == 200


def test_discovery_and_api_root(client, community):
    d = client.get("/taxii2/", headers=community.auth["rita"]).json()
    assert d["title"]
    assert d["default"] in d["api_roots"]
    for root in d["api_roots"]:
        assert root.startswith("/")
        assert not root.startswith("//")
        r = client.get(root, headers=community.auth["rita"])
        assert r.status_code == 200
        body = r.json()
        assert body["title"]
        assert MEDIA in body["versions"]
        assert isinstance(body["max_content_length"], int)
        assert body["max_content_length"] > 0


def test_body_size_limit(client, community, monkeypatch):
    from accord.core import settings

    url = community.url(community.shared, "objects/")
    body = b'{"objects": []}' + b" " * 85  # 100 bytes
    monkeypatch.setenv("ACCORD_TAXII_MAX_CONTENT_LENGTH", "100")
    settings.get_settings.cache_clear()
    headers = {**community.auth["alice"], "Content-Type": MEDIA}
    assert client.post(url, content=body, headers=headers).status_code == 202
    assert_taxii_error(client.post(url, content=body + b" ", headers=headers), 413)

    def chunks():  # no Content-Length: the streamed count decides
        yield body
        yield b" "

    assert_taxii_error(client.post(url, content=chunks(), headers=headers), 413)


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"not json", b'{"objects": {}}', b'{"objects": 3}'])
def test_non_envelope_bodies_rejected(client, community, body):
    url = community.url(community.shared, "objects/")
    r = client.post(url, content=body, headers={**community.auth["alice"], "Content-Type": MEDIA})
    assert r.status_code in (400, 422)
    assert r.headers["content-type"] == MEDIA


def test_timestamps_are_microsecond_utc(client, community):
    url = community.url(community.shared, "objects/")
    status = post_envelope(client, community.auth["alice"], url, make_indicator()).json()
    import re

    ts = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
    assert ts.match(status["request_timestamp"])
    r = client.get(community.url(community.shared, "manifest/"), headers=community.auth["alice"])
    assert ts.match(r.json()["objects"][0]["date_added"])
    assert ts.match(r.headers["x-taxii-date-added-first"])
    # inputs with fewer fractional digits are accepted
    r = client.get(url + "?added_after=2020-01-01T00:00:00Z", headers=community.auth["alice"])
    assert r.status_code == 200
    r = client.get(url + "?added_after=2020-01-01T00:00:00.1Z", headers=community.auth["alice"])
    assert r.status_code == 200
