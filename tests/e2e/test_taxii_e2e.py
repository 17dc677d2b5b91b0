"""A real server driven by taxii2-client 2.3 and raw httpx requests."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
import requests
from taxii2client.v21 import ApiRoot, Server, as_pages

from accord.core import helpers
from accord.core.helpers import helper_count
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e
MEDIA = "application/taxii+json;version=2.1"


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def _indicator(i: int, oid: str | None = None, modified: str | None = None) -> dict:
    created = f"2026-04-01T00:00:{i % 60:02d}.000Z"
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified or created,
        "name": f"e2e {i}",
        "pattern": f"[ipv4-addr:value = '192.0.2.{i % 250 + 1}']",
        "pattern_type": "stix",
        "valid_from": created,
    }


def _collection(server: LiveServer, **auth):
    root = Server(f"{server.url}/taxii2/", **auth).default
    assert isinstance(root, ApiRoot)
    assert root.max_content_length > 0
    (coll,) = [c for c in root.collections if c.alias == server.alias]
    return root, coll


def _helper_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and helpers.PROGRAM.encode() in cmdline:
            found.append(int(entry.name))
    return found


# First in this module: later tests send large envelopes, which would start a helper on demand anyway.
def test_the_server_starts_its_helper_processes_with_it(live_server: LiveServer) -> None:
    """The first large envelope finds a helper already warming up instead of starting one (2+ cores)."""
    expected = helper_count()
    deadline = time.monotonic() + 30
    while len(_helper_children(live_server.pid)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_helper_children(live_server.pid)) == expected


def test_taxii2_client_full_cycle_with_basic_password(live_server: LiveServer) -> None:
    root, coll = _collection(live_server, user=live_server.email, password=live_server.password)
    assert coll.can_read
    assert coll.can_write
    oid = f"indicator--{uuid.uuid4()}"
    first = [_indicator(1, oid), _indicator(2)]
    status = coll.add_objects({"objects": first})
    assert status.status == "complete"
    assert status.success_count == 2
    v2 = _indicator(1, oid, modified="2026-04-02T00:00:00.000Z")
    big = [v2] + [_indicator(10 + i) for i in range(9)]  # over the inline limit: queued, run by the server
    status = coll.add_objects({"objects": big}, poll_interval=0.2, timeout=30)
    assert status.status == "complete"
    assert status.success_count == 10
    assert status.pending_count == 0
    assert root.get_status(status.id).status == "complete"
    got = coll.get_object(oid)
    assert [o["modified"] for o in got["objects"]] == ["2026-04-02T00:00:00.000Z"]
    versions = coll.object_versions(oid)
    assert versions["versions"] == ["2026-04-01T00:00:01.000000Z", "2026-04-02T00:00:00.000000Z"]
    manifest = coll.get_manifest()
    assert len(manifest["objects"]) == 11
    everything = coll.get_objects()
    ids = [o["id"] for o in everything["objects"]]
    assert len(ids) == 11
    assert len(set(ids)) == 11
    paged = [o["id"] for page in as_pages(coll.get_objects, per_request=3) for o in page.get("objects", [])]
    assert paged == ids
    manifest_paged = [e["id"] for page in as_pages(coll.get_manifest, per_request=4) for e in page.get("objects", [])]
    assert manifest_paged == [e["id"] for e in manifest["objects"]]
    coll.delete_object(oid)
    assert oid not in {o["id"] for o in coll.get_objects().get("objects", [])}
    with pytest.raises(requests.HTTPError):
        coll.get_object(oid)


def test_taxii2_client_with_token(live_server: LiveServer) -> None:
    _, coll = _collection(live_server, auth=Bearer(live_server.token))
    status = coll.add_objects({"objects": [_indicator(30)]})
    assert status.success_count == 1
    _, coll = _collection(live_server, user=live_server.email, password=live_server.token)  # Basic e-mail + token
    assert coll.can_write
    _, reader = _collection(live_server, auth=Bearer(live_server.reader_token))
    assert reader.can_read
    assert not reader.can_write
    assert reader.get_objects().get("objects")


def test_raw_checklist_lines(live_server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {live_server.token}"}
    with httpx.Client(base_url=live_server.url, headers=auth, timeout=10) as http:
        r = http.get("/taxii2/api/collections")
        assert r.status_code == 308
        assert r.headers["location"].endswith("/collections/")
        assert r.headers["content-type"] == MEDIA
        r = http.get("/taxii2/api/collections/", headers={"Accept": "text/html"})
        assert r.status_code == 406
        assert r.json()["http_status"] == "406"
        r = http.get("/taxii2/", headers={"Accept": "application/taxii+json"})
        assert r.status_code == 200
        assert r.headers["content-type"] == MEDIA
        colls = http.get("/taxii2/api/collections/").json()["collections"]
        base = f"/taxii2/api/collections/{colls[0]['id']}/"
        r = http.post(base + "objects/", content=b'{"objects": []}', headers={"Content-Type": "application/json"})
        assert r.status_code == 415
        assert r.headers["content-type"] == MEDIA
        r = http.get(base + "objects/", params={"limit": "0"})
        assert r.status_code == 400
        r = http.get(base + "objects/", params={"next": "AAAA"})
        assert r.status_code == 400
        envelope = orjson.dumps({"objects": [_indicator(41)]})
        r = http.post(base + "objects/", content=envelope, headers={"Content-Type": MEDIA, "Accept": MEDIA})
        assert r.status_code == 202  # this test runs alone on its server under xdist: it brings its own object
        r = http.get(base + "manifest/", params={"limit": "2"})
        assert r.status_code == 200
        assert r.headers["x-taxii-date-added-first"]
        r = httpx.get(f"{live_server.url}/taxii2/", timeout=10)
        assert r.status_code == 401
        assert "www-authenticate" in r.headers
        r = http.get("/taxii2/api/status/00000000-0000-4000-8000-000000000000/")
        assert r.status_code == 404
        assert r.headers["content-type"] == MEDIA


def test_large_envelopes_through_the_queue_and_a_helper_process(live_server: LiveServer) -> None:
    """Envelopes big enough to be split with a helper process come out whole, in order, once each."""
    headers = {"Authorization": f"Bearer {live_server.token}", "Accept": MEDIA, "Content-Type": MEDIA}
    base = f"{live_server.url}/taxii2/api"
    with httpx.Client(headers=headers, timeout=60) as client:
        coll = next(c for c in client.get(f"{base}/collections/").json()["collections"] if c["alias"] == "shared")
        objects_url = f"{base}/collections/{coll['id']}/objects/"
        posted: list[str] = []
        for _ in range(2):  # the first starts the helper; later ones may use it
            objs = [_indicator(i) for i in range(600)]
            posted += [o["id"] for o in objs]
            status = client.post(objects_url, json={"objects": objs}).json()
            deadline = time.monotonic() + 60
            while status["status"] != "complete" and time.monotonic() < deadline:
                time.sleep(0.1)
                status = client.get(f"{base}/status/{status['id']}/").json()
            assert (status["status"], status["success_count"], status["failure_count"]) == ("complete", 600, 0)
            assert [s["id"] for s in status["successes"]] == [o["id"] for o in objs]
        seen: list[str] = []
        params: dict[str, str] = {"match[type]": "indicator"}
        while True:
            body = client.get(objects_url, params=params).json()
            seen += [o["id"] for o in body.get("objects", [])]
            if not body.get("more"):
                break
            params = {"match[type]": "indicator", "next": body["next"]}
    wanted = set(posted)
    assert [i for i in seen if i in wanted] == posted
