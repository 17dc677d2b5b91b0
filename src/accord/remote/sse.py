"""Reading server-sent event streams (the WHATWG HTML "event stream" format) over httpx."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import httpx

DEFAULT_READ_TIMEOUT = 60.0  # seconds without a byte: Accord sends a keep-alive every 15 s


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event: the last event id in effect, its type ("message" unless named) and its data."""

    id: str | None
    event: str
    data: str
    sig: str | None = None  # Accord's `sig:` field (ignored by other readers): a signature of event + data


class StreamStalled(TimeoutError):
    """Nothing arrived within the read timeout; resume with `last_event_id`."""

    def __init__(self, last_event_id: str | None) -> None:
        super().__init__("the event stream sent nothing within the read timeout")
        self.last_event_id = last_event_id


class EventParser:
    """Turns the lines of an event stream into events; keeps the last event id and the server's retry delay."""

    def __init__(self, last_event_id: str | None = None) -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self._data: list[str] = []
        self._event = ""
        self._sig: str | None = None
        self._id = last_event_id

    def feed(self, line: str) -> Event | None:
        """Take one line (without its end of line); return the event that a blank line completes, if any."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "sig":
            self._sig = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        # any other field is ignored
        return None

    def _dispatch(self) -> Event | None:
        self.last_event_id = self._id  # an id without data still moves the position (WHATWG)
        data, event, sig = self._data, self._event, self._sig
        self._data, self._event, self._sig = [], "", None
        if not data:
            return None
        return Event(self._id or None, event or "message", "\n".join(data), sig)

    def parse(self, lines: Iterable[str]) -> Iterator[Event]:
        """The events of a sequence of lines; an unterminated last event is dropped, as the format says."""
        for line in lines:
            event = self.feed(line)
            if event is not None:
                yield event


def signed_part(event: str, data: str | bytes) -> bytes:
    """What an event's `sig` signs: its type, a line end, and its data."""
    return event.encode() + b"\n" + (data.encode() if isinstance(data, str) else data)


def split_lines(chunks: Iterable[str]) -> Iterator[str]:
    """Lines of a text stream ended by CRLF, LF or CR, however the chunks cut them."""
    pending = ""
    for chunk in chunks:
        text = pending + chunk
        pending = ""
        start = 0
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "\r\n":
                if ch == "\r" and i + 1 == len(text):
                    break  # a CR at the end of a chunk may be half of a CRLF
                yield text[start:i]
                i += 2 if ch == "\r" and text[i + 1] == "\n" else 1
                start = i
            else:
                i += 1
        pending = text[start:]
    if pending.endswith("\r"):
        yield pending[:-1]


class EventSource:
    """One connection to an event stream: iterate for its events; `last_event_id` (updated by every id the server
    sends, also with keep-alives) is where to resume with a new EventSource."""

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        headers: Mapping[str, str] | None = None,
        last_event_id: str | None = None,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.client = client
        self.url = url
        self.headers = dict(headers or {})
        self.read_timeout = read_timeout
        self.parser = EventParser(last_event_id)

    @property
    def last_event_id(self) -> str | None:
        """The id to resume after."""
        return self.parser.last_event_id

    @property
    def retry_ms(self) -> int | None:
        """The reconnection delay the server asked for, if any."""
        return self.parser.retry_ms

    def __iter__(self) -> Iterator[Event]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store", **self.headers}
        if self.parser.last_event_id:
            headers["Last-Event-ID"] = self.parser.last_event_id
        timeout = httpx.Timeout(self.client.timeout.connect, read=self.read_timeout)
        try:
            with self.client.stream("GET", self.url, headers=headers, timeout=timeout) as response:
                response.raise_for_status()
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind != "text/event-stream":
                    raise httpx.DecodingError(f"expected text/event-stream, got {kind or 'no content type'}")
                yield from self.parser.parse(split_lines(response.iter_text()))
        except httpx.ReadTimeout:
            raise StreamStalled(self.parser.last_event_id) from None


def iter_events(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str] | None = None,
    last_event_id: str | None = None,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Iterator[Event]:
    """The events of one connection to an event stream, resuming after `last_event_id` when given.

    Raises httpx.HTTPStatusError for an error answer and StreamStalled when nothing (not even a keep-alive)
    arrives within `read_timeout` seconds.
    """
    return iter(EventSource(client, url, headers, last_event_id, read_timeout=read_timeout))
