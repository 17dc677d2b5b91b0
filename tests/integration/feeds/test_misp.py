"""A MISP feed (manifest.json + event files) pulled from a loopback server, cross-checked against pymisp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pymisp import MISPEvent
from sqlalchemy import Engine, select

from accord.core.db import transaction
from accord.feeds.pull import pull_feed
from accord.models.objects import stix_object
from accord.stix.markings import Tlp, tlp_marking_definition
from tests.integration.feeds.conftest import DATA, add, counts, pull_rows
from tests.integration.feeds.server import FeedServer

EV1, EV2, EV3 = (f"5f0c2a1e-6b1d-4c3a-9e2f-1a2b3c4d5e0{i}" for i in (1, 2, 3))


def _stored(engine: Engine) -> dict[str, dict[str, Any]]:
    with transaction(engine) as conn:
        rows = conn.execute(select(stix_object.c.raw).where(stix_object.c.is_latest.is_(True)))
        return {o["id"]: o for o in (orjson.loads(r.raw) for r in rows)}


def _serve_manifest(server: FeedServer, *uuids: str) -> None:
    full = orjson.loads(server.files["misp/manifest.json"])
    manifest = {u: full[u] for u in uuids if u in full}
    for u in uuids:
        if u not in full:
            event = orjson.loads((DATA / "misp" / f"{u}.json").read_bytes())["Event"]
            manifest[u] = {"info": event["info"], "date": event["date"], "timestamp": event["timestamp"]}
    server.files["misp/manifest.json"] = orjson.dumps(manifest)


def _load(path: Path) -> MISPEvent:
    event = MISPEvent()
    event.load(path.read_text())
    return event


def test_misp_events_convert_faithfully(engine: Engine, node: dict, server: FeedServer) -> None:
    add(engine, "circl", server.url("misp/"), "misp")
    result = pull_feed(engine, "circl")
    assert result.status == "ok", result.error
    assert result.refused == 0, result.reasons
    stored = _stored(engine)
    patterns = " ".join(o.get("pattern", "") for o in stored.values())
    for uuid in (EV1, EV2):
        event = _load(DATA / "misp" / f"{uuid}.json")
        report = stored[f"report--{uuid}"]
        assert report["name"] == event.info
        assert report["published"]
        tags = {t.name for t in event.tags}
        assert set(report["labels"]) == {t for t in tags if not t.startswith("tlp:")}
        tlp = next(Tlp.parse(t) for t in tags if t.startswith("tlp:"))
        assert report["object_marking_refs"] == [tlp_marking_definition(tlp)["id"]]
        to_ids = [a for a in event.attributes if a.to_ids]
        to_ids += [a for o in event.objects for a in o.attributes if a.to_ids]
        for attribute in to_ids:
            for part in str(attribute.value).split("|"):
                escaped = part.replace("\\", "\\\\").replace("'", "\\'")
                assert f"'{escaped}'" in patterns or f"= {part}" in patterns, attribute.value
        for attribute in event.attributes:
            if attribute.to_ids:
                indicator = stored[f"indicator--{attribute.uuid}"]
                attribute_tlp = [t.name for t in attribute.tags if t.name.startswith("tlp:")]
                level = Tlp.parse(attribute_tlp[0]) if attribute_tlp else tlp
                assert indicator["object_marking_refs"] == [tlp_marking_definition(level)["id"]]
                # the report names no object more restricted than itself (its readers would learn the ids)
                assert (f"indicator--{attribute.uuid}" in report["object_refs"]) is (level <= tlp)
    # Non-detection values are observables; CVEs are vulnerabilities; MISP objects one combined pattern.
    assert any(o["type"] == "ipv4-addr" and o["value"] == "198.51.100.7" for o in stored.values())
    assert stored["vulnerability--1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a04"]["name"] == "CVE-2023-23397"
    file_object = stored["indicator--7c1e2d3f-4a5b-4c6d-8e7f-8091a2b3c401"]["pattern"]
    assert "file:hashes.'SHA-1'" in file_object
    assert "file:name = 'svchost32.exe'" in file_object
    assert "file:size = 184320" in file_object


def test_misp_pulls_only_new_or_changed_events(engine: Engine, node: dict, server: FeedServer) -> None:
    _serve_manifest(server, EV1, EV2)
    add(engine, "circl", server.url("misp/manifest.json"), "misp")
    assert pull_feed(engine, "circl").status == "ok"
    before = counts(engine)
    again = pull_feed(engine, "circl")
    assert (again.status, again.http_status) == ("not-modified", 304)
    assert counts(engine) == before
    server.requests.clear()
    _serve_manifest(server, EV1, EV2, EV3)
    result = pull_feed(engine, "circl")
    fetched = [path for path, _ in server.requests]
    assert fetched == ["/misp/manifest.json", f"/misp/{EV3}.json"]
    # The report, three indicators, and the TLP:CLEAR definition, which no earlier event of this feed needed.
    assert (result.status, result.stored, result.refused) == ("ok", 5, 0)
    assert counts(engine)[0] == before[0] + 5
    report = _stored(engine)[f"report--{EV3}"]
    assert report["object_marking_refs"] == [tlp_marking_definition(Tlp.CLEAR)["id"]]


def test_misp_changed_event_is_pulled_again_as_new_versions(engine: Engine, node: dict, server: FeedServer) -> None:
    _serve_manifest(server, EV1)
    add(engine, "circl", server.url("misp"), "misp")
    pull_feed(engine, "circl")
    event = orjson.loads(server.files[f"misp/{EV1}.json"])
    event["Event"]["timestamp"] = "1768060000"
    event["Event"]["Attribute"][0]["timestamp"] = "1768060000"
    event["Event"]["Attribute"][0]["comment"] = "C2 server (confirmed)"
    server.files[f"misp/{EV1}.json"] = orjson.dumps(event)
    manifest = orjson.loads(server.files["misp/manifest.json"])
    manifest[EV1]["timestamp"] = "1768060000"
    server.files["misp/manifest.json"] = orjson.dumps(manifest)
    result = pull_feed(engine, "circl")
    assert (result.stored, result.refused) == (2, 0)  # the changed indicator and the event's report
    indicator = _stored(engine)["indicator--0a6f7e21-1c2d-4e3f-8a9b-0c1d2e3f4a01"]
    assert indicator["description"] == "C2 server (confirmed)"


def test_misp_invalid_event_stores_nothing(engine: Engine, node: dict, server: FeedServer) -> None:
    server.files[f"misp/{EV2}.json"] = b'{"Event": "truncated'
    add(engine, "circl", server.url("misp/"), "misp")
    before = counts(engine)
    result = pull_feed(engine, "circl")
    assert result.status == "error"
    assert result.error is not None
    assert EV2 in result.error
    assert counts(engine) == before
    assert pull_rows(engine)[-1].status == "error"
    server.files[f"misp/{EV2}.json"] = (DATA / "misp" / f"{EV2}.json").read_bytes()
    assert pull_feed(engine, "circl").status == "ok"  # nothing was remembered from the failed pull
