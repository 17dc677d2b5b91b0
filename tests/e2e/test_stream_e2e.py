"""The live stream on a real server: what is POSTed over TAXII arrives on a stream that is already open."""

from __future__ import annotations

import httpx
import orjson

from accord.remote.sse import EventParser, iter_events, split_lines
from tests.builders import bundle, make_indicator
from tests.e2e.conftest import LiveServer

TAXII = "application/taxii+json;version=2.1"


def _post(server: LiveServer, ob: dict) -> None:
    response = httpx.post(
        f"{server.url}/taxii2/api/collections/{server.alias}/objects/",
        content=orjson.dumps(bundle(ob)),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": TAXII, "Accept": TAXII},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert response.json()["success_count"] == 1


def test_an_object_posted_over_taxii_arrives_on_an_open_stream(live_server: LiveServer) -> None:
    ob = make_indicator()  # unmarked: the node default (AMBER), which Beta reads in the owner's collection
    headers = {"Authorization": f"Bearer {live_server.reader_token}"}
    url = f"{live_server.url}/api/v1/stream?collection={live_server.alias}"
    # The read timeout only guards against a hung test: nothing here waits for a time to pass.
    with httpx.Client(timeout=httpx.Timeout(30.0)) as client, client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        _post(live_server, ob)  # the stream is open: its position ("now") was fixed before the headers came
        parser = EventParser()
        arrived = next(e for e in parser.parse(split_lines(response.iter_text())) if e.event == "object")
    assert orjson.loads(arrived.data)["id"] == ob["id"]
    # resuming after it: nothing is sent again; from the start, through the client API, it is there
    with httpx.Client(timeout=httpx.Timeout(30.0)) as client:
        rest = list(iter_events(client, f"{url}&wait=0", headers, last_event_id=arrived.id))
        assert all(orjson.loads(e.data)["id"] != ob["id"] for e in rest)
        replay = list(iter_events(client, f"{url}&from=start&wait=0", headers))
        assert ob["id"] in {orjson.loads(e.data)["id"] for e in replay}
