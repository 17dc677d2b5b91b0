"""Accord's own TAXII client against Accord's server, served on loopback: discovery, writes, paging by `next`."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from accord.api.app import create_app
from accord.core.settings import get_settings
from accord.remote.http import RemoteError
from accord.remote.taxii import RemoteServer, TaxiiClient
from tests.builders import make_indicator
from tests.integration.taxii.conftest import Community


@contextmanager
def serving() -> Iterator[str]:
    """The app served by uvicorn in a thread on a loopback port the OS picks; its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@pytest.fixture
def base_url(community: Community, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ACCORD_RUN_JOBS", "0")
    get_settings.cache_clear()  # settings are read once per process
    with serving() as url:
        yield url


def test_discovery_write_and_paging_by_next(base_url: str, community: Community) -> None:
    token = community.auth["alice"]["Authorization"].removeprefix("Bearer ")
    server = RemoteServer(url=f"{base_url}/taxii2/", token=token, allow_private=True)
    sent = [make_indicator() for _ in range(7)]
    with TaxiiClient(server) as client:
        assert client.api_root() == f"{base_url}/taxii2/api/"
        assert community.shared.uuid in {c["id"] for c in client.collections()}
        status = client.add_objects(community.shared.uuid, sent)
        assert (status["status"], status["success_count"]) == ("complete", 7)
        pages = list(client.objects_pages(community.shared.uuid, limit=3))
        assert [len(p.objects) for p in pages] == [3, 3, 1]
        assert all(p.next for p in pages[:2])
        assert [o["id"] for p in pages for o in p.objects] == [o["id"] for o in sent]
        later = list(client.objects_pages(community.shared.uuid, limit=2, added_after=pages[0].date_added_last))
        assert [o["id"] for p in later for o in p.objects] == [o["id"] for o in sent[3:]]
        assert [r["id"] for r in client.manifest(community.shared.uuid, limit=4)] == [o["id"] for o in sent]


def test_a_bad_token_is_a_401_remote_error(base_url: str) -> None:
    server = RemoteServer(url=f"{base_url}/taxii2/", token="nope", allow_private=True)
    with TaxiiClient(server) as client, pytest.raises(RemoteError) as refused:
        client.api_root()
    assert refused.value.http_status == 401
    assert "HTTP 401" in refused.value.message
