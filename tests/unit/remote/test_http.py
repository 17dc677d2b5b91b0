"""The outbound-fetch guard against real loopback servers: addresses, redirects, limits, timeouts, one-line errors."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from tests.unit.remote.server import scripted, send

from accord.remote import http as remote_http
from accord.remote.http import AddressRefused, RemoteError, ResponseTooLarge, SafeClient, fetch, is_public

BODY = b"<html><title>r</title><p>C2 evil-site[.]com</p></html>"
PORT: list[int] = []


def _chunked(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    for _ in range(10):
        handler.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
    handler.wfile.write(b"0\r\n\r\n")


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    with contextlib.suppress(OSError):  # the client gives up
        for _ in range(1000):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.02)


def _slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(1.0)
    with contextlib.suppress(OSError):  # the client gave up
        send(handler, 200, b"late")


def _echo(handler: BaseHTTPRequestHandler) -> None:
    seen = f"host={handler.headers.get('Host')} auth={handler.headers.get('Authorization')}"
    send(handler, 200, seen.encode())


def _redirect(target: str) -> object:
    return lambda h: send(h, 302, Location=target.replace("PORT", str(PORT[0])))


ROUTES = {
    "/report": lambda h: send(h, 200, BODY, Content_Type="text/html; charset=utf-8"),
    "/big": lambda h: send(h, 200, b"x" * 5000),
    "/big-chunked": _chunked,
    "/trickle": _trickle,
    "/slow": _slow,
    "/echo": _echo,
    "/redirect": _redirect("/report"),
    "/loop": _redirect("/loop"),
    "/to-private": _redirect("http://10.0.0.1/x"),
    "/to-file": _redirect("file:///etc/passwd"),
    "/to-other-origin": _redirect("http://localhost:PORT/echo"),
    "/to-same-origin": _redirect("/echo"),
    "/error": lambda h: send(h, 503, b"busy", Content_Type="text/plain"),
}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with scripted(ROUTES) as url:
        PORT[:] = [int(url.rsplit(":", 1)[1])]
        yield url


def test_fetch_returns_the_body_and_follows_redirects(base: str) -> None:
    got = fetch(f"{base}/redirect", allow_private=True)
    assert (got.status, got.body, got.content_type) == (200, BODY, "text/html; charset=utf-8")


def test_redirect_loops_stop(base: str) -> None:
    with pytest.raises(RemoteError, match="more than 5 redirects"):
        fetch(f"{base}/loop", allow_private=True)


def test_loopback_is_refused_by_default(base: str) -> None:
    with pytest.raises(AddressRefused, match=r"non-public address 127\.0\.0\.1"):
        fetch(f"{base}/report")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://localhost/",
    ],
)
def test_private_and_reserved_addresses_are_refused_without_connecting(url: str) -> None:
    with pytest.raises(AddressRefused, match="non-public"):
        fetch(url, timeout=1)


def test_public_addresses_are_public() -> None:
    assert is_public("93.184.216.34")
    assert is_public("2606:4700::1111")
    assert not is_public("::ffff:10.1.2.3")


def test_a_redirect_to_a_private_address_is_refused(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Loopback counts as public here, so the first hop is allowed; the hop it redirects to is not.
    monkeypatch.setattr(remote_http, "is_public", lambda address: address != "10.0.0.1")
    with pytest.raises(AddressRefused, match=r"http://10\.0\.0\.1/x: refusing to fetch from non-public address"):
        fetch(f"{base}/to-private")


def test_a_redirect_to_another_scheme_is_refused(base: str) -> None:
    with pytest.raises(RemoteError, match="redirected to a non-http URL"):
        fetch(f"{base}/to-file", allow_private=True)


def test_the_connection_goes_to_the_checked_address_with_the_host_kept(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name that "resolves" to loopback at connection time: refused, whatever an earlier lookup said.
    monkeypatch.setattr(remote_http, "_resolve", lambda host, port: ["127.0.0.1"])
    with pytest.raises(AddressRefused, match=r"non-public address 127\.0\.0\.1 \(rebind\.example\)"):
        fetch(f"http://rebind.example:{PORT[0]}/echo")
    got = fetch(f"http://rebind.example:{PORT[0]}/echo", allow_private=True)
    assert got.body == f"host=rebind.example:{PORT[0]} auth=None".encode()


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin(base: str) -> None:
    same = fetch(f"{base}/to-same-origin", auth=("u", "pw"), allow_private=True)
    assert b"auth=Basic " in same.body
    other = fetch(f"{base}/to-other-origin", auth=("u", "pw"), allow_private=True)
    assert other.body == f"host=localhost:{PORT[0]} auth=None".encode()


def test_oversize_bodies_are_refused_declared_or_streamed(base: str) -> None:
    for path in ("/big", "/big-chunked"):
        with pytest.raises(ResponseTooLarge, match="larger than 1,000 bytes"):
            fetch(f"{base}{path}", max_bytes=1000, allow_private=True)


def test_a_slow_server_times_out_with_one_line(base: str) -> None:
    with pytest.raises(RemoteError) as slow:
        fetch(f"{base}/slow", timeout=0.2, allow_private=True)
    assert slow.value.message == f"{base}/slow: timed out"


def test_the_overall_deadline_stops_a_trickling_body(base: str) -> None:
    with SafeClient(allow_private=True, timeout=5, deadline=0.3) as client, pytest.raises(RemoteError) as slow:
        client.request("GET", f"{base}/trickle")
    assert slow.value.message == f"{base}/trickle: timed out"


def test_http_errors_carry_the_status(base: str) -> None:
    with pytest.raises(RemoteError) as busy:
        fetch(f"{base}/error", allow_private=True)
    assert busy.value.message == f"{base}/error: HTTP 503 Service Unavailable"
    assert (busy.value.http_status, busy.value.status) == (503, 502)


def test_unresolvable_hosts_are_one_line() -> None:
    with pytest.raises(RemoteError, match=r"http://feeds\.invalid/x: cannot resolve host") as gone:
        fetch("http://feeds.invalid/x", timeout=2)
    assert "\n" not in gone.value.message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x", "not a url"])
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(RemoteError, match="only http and https"):
        fetch(url)
