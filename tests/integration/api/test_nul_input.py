"""A NUL character (\\u0000) anywhere in a request is a 4xx with a reason, never a 500, on both databases.

PostgreSQL text cannot hold NUL, so without a check the database refuses the value mid-request.
"""

from __future__ import annotations

import pytest

from tests.builders import make_indicator

NUL = "evil\u0000name"


@pytest.mark.parametrize(
    ("method", "path", "body", "who"),
    [
        ("post", "/api/v1/orgs", {"name": NUL}, "admin"),
        ("post", "/api/v1/users", {"email": "nul@alpha.example", "org": "Alpha", "role": NUL}, "admin"),
        ("post", "/api/v1/users", {"email": f"n{NUL}@alpha.example", "org": "Alpha", "role": "analyst"}, "admin"),
        ("post", "/api/v1/groups", {"name": NUL, "members": ["Alpha"]}, "admin"),
        ("post", "/api/v1/collections", {"alias": "nul", "title": NUL, "read": ["Alpha"]}, "admin"),
        ("post", "/api/v1/lookup", {"values": [NUL]}, "alice"),
        ("post", "/api/v1/sightings", {"of": f"indicator--{NUL}"}, "alice"),
        ("get", "/api/v1/objects?type=indic%00ator", None, "alice"),
        ("get", "/taxii2/api/collections/?x=%00", None, "alice"),
        ("get", "/api/v1/collections/n%00ul", None, "alice"),
    ],
)
def test_nul_in_a_request_is_a_client_error(node, method, path, body, who):
    kwargs = {"json": body} if body is not None else {}
    res = getattr(node.client, method)(path, headers=node.bearer(who), **kwargs)
    assert res.status_code == 400, (res.status_code, res.text)
    assert "NUL" in res.text


def test_nul_in_a_taxii_envelope_is_a_failure_not_an_error(node):
    admin = node.bearer("admin")
    made = node.client.post(
        "/api/v1/collections",
        json={"alias": "c", "title": "C", "read": ["Alpha"], "write": ["Alpha"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    objects = [make_indicator(name=NUL), make_indicator()]
    res = node.client.post(
        f"/taxii2/api/collections/{made.json()['id']}/objects/",
        content=__import__("orjson").dumps({"objects": objects}),
        headers={
            **node.bearer("alice"),
            "Content-Type": "application/taxii+json;version=2.1",
            "Accept": "application/taxii+json;version=2.1",
        },
    )
    assert res.status_code in (200, 202), res.text
    status = res.json()
    assert (status["success_count"], status["failure_count"]) == (1, 1)
    assert "NUL character" in status["failures"][0]["message"]


def test_an_overlong_email_is_refused_alike_on_both_databases(node):
    email = "a" * 320 + "@alpha.example"  # SQLite would store it; PostgreSQL's varchar(320) would not
    body = {"email": email, "org": "Alpha", "role": "analyst"}
    res = node.client.post("/api/v1/users", json=body, headers=node.bearer("admin"))
    assert res.status_code == 400, res.text
    assert "at most 320 characters" in res.text
