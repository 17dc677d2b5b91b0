"""The event-stream parser against the WHATWG format: fields, multi-line data, comments, ids, retry, line ends."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.remote.sse import Event, EventParser, StreamStalled, iter_events, split_lines


def _parse(text: str, last_event_id: str | None = None) -> tuple[list[Event], EventParser]:
    parser = EventParser(last_event_id)
    return list(parser.parse(split_lines([text]))), parser


def test_fields_multiline_data_and_comments():
    events, parser = _parse(': keep-alive\n\nid: 1\nevent: object\ndata: {"a":\ndata: 1}\n\ndata:plain\n\n')
    assert events == [Event("1", "object", '{"a":\n1}'), Event("1", "message", "plain")]
    assert parser.last_event_id == "1"


def test_an_id_without_data_moves_the_position_but_dispatches_nothing():
    events, parser = _parse("data: x\nid: 1\n\n: keep-alive\nid: 2\n\n", last_event_id="0")
    assert events == [Event("1", "message", "x")]
    assert parser.last_event_id == "2"


def test_retry_unknown_fields_and_an_unterminated_event():
    events, parser = _parse("retry: 1500\nretry: soon\nfoo: bar\ndata\n\ndata: half")
    assert events == [Event(None, "message", "")]  # a bare `data` field is an empty line of data
    assert parser.retry_ms == 1500


def test_an_id_with_nul_is_ignored():
    events, _ = _parse("id: a\0b\ndata: x\n\n", last_event_id="keep")
    assert events == [Event("keep", "message", "x")]


@given(st.sampled_from(["\n", "\r\n", "\r"]), st.integers(1, 40))
def test_line_ends_and_chunk_boundaries_do_not_matter(end, size):
    # (one end per stream: a CR ending a line and an LF ending the blank line after it would read as one CRLF)
    lines = ["id: 7", "event: removed", "data: one", "", "data: two", ""]
    text = "".join(line + end for line in lines)
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    events = list(EventParser().parse(split_lines(chunks)))
    assert events == [Event("7", "removed", "one"), Event("7", "message", "two")]


def _client(handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://node.example")


def test_iter_events_sends_the_last_event_id_and_reads_the_stream():
    seen: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        body = b"retry: 1000\n\nid: c2\nevent: object\ndata: {}\n\n"
        return httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})

    with _client(handler) as client:
        events = list(iter_events(client, "/api/v1/stream?collection=x", {"Authorization": "Bearer t"}, "c1"))
    assert events == [Event("c2", "object", "{}")]
    assert seen["last-event-id"] == "c1"
    assert seen["authorization"] == "Bearer t"


def test_iter_events_raises_for_errors_and_other_media_types():
    with _client(lambda r: httpx.Response(404, json={"detail": "no"})) as client, pytest.raises(httpx.HTTPStatusError):
        list(iter_events(client, "/s"))
    with _client(lambda r: httpx.Response(200, json={})) as client, pytest.raises(httpx.DecodingError):
        list(iter_events(client, "/s"))


def test_a_read_timeout_is_a_stalled_stream_that_says_where_to_resume():
    class Stalls(httpx.SyncByteStream):
        def __iter__(self):
            yield b"id: c9\ndata: x\n\n"
            raise httpx.ReadTimeout("nothing came")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Stalls(), headers={"Content-Type": "text/event-stream"})

    got: list[Event] = []
    with _client(handler) as client, pytest.raises(StreamStalled) as stalled:
        got.extend(iter_events(client, "/s", read_timeout=0.5))
    assert got == [Event("c9", "message", "x")]
    assert stalled.value.last_event_id == "c9"
