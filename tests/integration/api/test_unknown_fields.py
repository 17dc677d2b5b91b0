"""A request body field the route does not know is refused with a 422 problem, and nothing is created.

Found by trying the API as a new user would: `readers` instead of `read` made a collection no one could read,
answered 201, and the user believed it shared."""

from __future__ import annotations

from tests.integration.api.conftest import Node


def _unknown_field_refused(response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


def test_a_misspelt_grant_creates_no_collection(node: Node) -> None:
    admin, c = node.bearer("admin"), node.client
    body = {"title": "Intel", "alias": "intel", "readers": ["Alpha"]}
    _unknown_field_refused(c.post("/api/v1/collections", json=body, headers=admin), "readers")
    listed = c.get("/api/v1/collections", headers=admin).json()
    assert "intel" not in {row["alias"] for row in listed}
    made = c.post("/api/v1/collections", json={"title": "Intel", "alias": "intel", "read": ["Alpha"]}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["read"] == ["Alpha"]


def test_every_kind_of_body_refuses_unknown_fields(node: Node) -> None:
    admin, c = node.bearer("admin"), node.client
    for path, body in (
        ("/api/v1/orgs", {"name": "Delta", "country": "NL"}),
        ("/api/v1/tokens", {"email": "bob@bravo.example", "readonly": True}),
        ("/api/v1/feeds", {"name": "f", "url": "https://feeds.example/l.txt", "format": "text", "colour": "red"}),
        ("/api/v1/lookup", {"values": ["198.51.100.7"], "vaules": []}),
        ("/api/v1/cases", {"title": "c", "participant": ["Bravo"]}),
    ):
        _unknown_field_refused(c.post(path, json=body, headers=admin), next(iter(body.keys() - _known(path))))
    assert "Delta" not in {row["name"] for row in c.get("/api/v1/orgs", headers=admin).json()}


def _known(path: str) -> set[str]:
    return {
        "/api/v1/orgs": {"name"},
        "/api/v1/tokens": {"email"},
        "/api/v1/feeds": {"name", "url", "format"},
        "/api/v1/lookup": {"values"},
        "/api/v1/cases": {"title"},
    }[path]
