"""A real HTTP server on loopback serving feed files, with ETag/Last-Modified and failure modes."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def last_modified(body: bytes) -> str:
    """A Last-Modified date that changes whenever the body does."""
    return formatdate(1_760_000_000 + int(hashlib.sha1(body).hexdigest()[:6], 16), usegmt=True)


@dataclass
class FeedServer:
    """Files by path; `fail` (status code) or `delay` (seconds) apply to every request while set."""

    files: dict[str, bytes] = field(default_factory=dict)
    fail: int | None = None
    delay: float = 0.0
    conditional: bool = True  # answer If-None-Match / If-Modified-Since with 304
    basic: tuple[str, str] | None = None  # when set, requests without these HTTP Basic credentials get 401
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        """The URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _handler(state: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers.items())))
            if state.delay:
                time.sleep(state.delay)
            if state.basic and self.headers.get("Authorization") != _basic(*state.basic):
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.fail:
                self.send_response(state.fail)
                self.send_header("Content-Length", "5")
                self.end_headers()
                self.wfile.write(b"oops!")
                return
            body = state.files.get(self.path.lstrip("/"))
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha1(body).hexdigest() + '"'
            stamp = last_modified(body)
            inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
            if state.conditional and (inm == etag if inm else ims == stamp):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            if state.conditional:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", stamp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(state: FeedServer) -> Iterator[FeedServer]:
    """Run the server in a thread on 127.0.0.1 (port chosen by the OS) for the duration of the block."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
