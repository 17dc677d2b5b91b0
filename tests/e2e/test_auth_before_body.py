"""Credentials are checked before a body is read, on a real `accord serve` (issue 23).

A request with a garbage, unknown-scheme or revoked token and a large body is answered 401 from its headers alone:
the tests send the headers with a Content-Length of several megabytes and no body at all, and the answer must come
back anyway (a server that read the body first would wait for it until the test's timeout). A valid token's
request waits for its body and is answered as before. On SQLite, and on PostgreSQL when ACCORD_TEST_POSTGRES_URL
is set.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL
from tests.e2e.procs import ProcNode, proc_node
from tests.integration.ops.empty_db import empty_database

KINDS = ["sqlite"] + (["postgres"] if PG_URL else [])
DECLARED = 15_000_000  # under the 16 MiB JSON limit: only the credentials can refuse it unread
BODY = b'{"values": ["198.51.100.7"]}'


@pytest.fixture(params=KINDS, scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcNode]:
    tmp: Path = tmp_path_factory.mktemp("authfirst")
    with empty_database(request.param, tmp) as url, proc_node(url, tmp / "node") as node:
        node.serve()
        yield node


def _headers_only(port: int, path: str, authorization: str, length: int, media: str) -> socket.socket:
    """A connection that sent a POST's headers and none of its body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
        f"Content-Type: {media}\r\nContent-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def _status(sock: socket.socket) -> int:
    """The status of the answer on this connection (socket.timeout if none comes)."""
    got = b""
    while b"\r\n" not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return int(got.split(b" ", 2)[1])


def _revoked_token(node: ProcNode) -> str:
    token = node.node.token("alice@alpha.example")
    node.node.cli("token", "revoke", token[: len("acc_") + 8])  # the prefix as `accord token list` shows it
    return token


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/api/v1/lookup", "application/json"),
        ("/api/v1/orgs", "application/merge-patch+json"),
        ("/api/v1/extract", "multipart/form-data; boundary=x"),
    ],
)
def test_wrong_credentials_are_refused_before_the_body_is_read(served: ProcNode, path: str, media: str) -> None:
    port = served.node.port
    assert port is not None
    revoked = _revoked_token(served)
    for authorization in (
        "Bearer acc_00000000" + "0" * 40,  # well-formed, unknown
        "Bearer garbage",
        "Token garbage",
        f"Bearer {revoked}",
        "Basic YWxpY2VAYWxwaGEuZXhhbXBsZTp3cm9uZw==",  # alice, a wrong password
    ):
        with _headers_only(port, path, authorization, DECLARED, media) as sock:
            assert _status(sock) == 401, authorization
    # the valid token's request waits for its body, then is answered as before
    with _headers_only(port, "/api/v1/lookup", f"Bearer {served.token}", len(BODY), "application/json") as sock:
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        sock.settimeout(30)
        sock.sendall(BODY)
        assert _status(sock) == 200


def test_a_taxii_post_with_wrong_credentials_is_refused_unread(served: ProcNode) -> None:
    cid = served.node.collection_id("intel", served.token)
    port = served.node.port
    assert port is not None
    path = f"/taxii2/api/collections/{cid}/objects/"
    for authorization in ("Bearer garbage", f"Bearer {_revoked_token(served)}"):
        with _headers_only(port, path, authorization, 50_000_000, "application/taxii+json;version=2.1") as sock:
            assert _status(sock) == 401
