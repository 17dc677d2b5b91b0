"""fetch_url against a real HTTP server on loopback: success, size limit, redirects and private refusal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accord.extract.fetch import fetch_url

BODY = b"<html><title>r</title><p>C2 evil-site[.]com</p></html>"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/report":
            self._send(200, BODY, "text/html; charset=utf-8")
        elif self.path == "/big":
            self._send(200, b"x" * 5000, "text/plain")
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/report")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"missing", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_fetch_returns_body_and_content_type(base_url: str) -> None:
    body, content_type = fetch_url(f"{base_url}/report", allow_private=True)
    assert body == BODY
    assert content_type == "text/html; charset=utf-8"


def test_redirects_are_followed(base_url: str) -> None:
    body, _ = fetch_url(f"{base_url}/redirect", allow_private=True)
    assert body == BODY


def test_redirect_loops_stop(base_url: str) -> None:
    with pytest.raises(ValueError, match="redirects"):
        fetch_url(f"{base_url}/loop", allow_private=True)


def test_loopback_is_refused_by_default(base_url: str) -> None:
    with pytest.raises(ValueError, match=r"non-public address 127\.0\.0\.1"):
        fetch_url(f"{base_url}/report")


@pytest.mark.parametrize(
    "url",
    ["http://10.0.0.1/", "http://192.168.1.1/x", "http://169.254.169.254/latest", "http://[::1]/", "http://0.0.0.0/"],
)
def test_private_and_reserved_addresses_are_refused_without_connecting(url: str) -> None:
    with pytest.raises(ValueError, match="non-public"):
        fetch_url(url, timeout=1)


def test_oversize_bodies_are_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        fetch_url(f"{base_url}/big", max_bytes=1000, allow_private=True)
    with pytest.raises(ValueError, match="larger than 1000 bytes"):
        fetch_url(f"{base_url}/big-chunked", max_bytes=1000, allow_private=True)


def test_http_errors_are_reported(base_url: str) -> None:
    with pytest.raises(ValueError, match="HTTP 404"):
        fetch_url(f"{base_url}/nothing", allow_private=True)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x", "not a url"])
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="only http and https"):
        fetch_url(url)
