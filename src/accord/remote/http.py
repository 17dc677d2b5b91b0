"""Outbound HTTP(S) for the whole node, safe against SSRF: one client, one address guard, one-line failure reasons.

The address guard sits in the connection itself: a network backend for httpcore resolves the host once, refuses
non-public addresses (unless allowed) and connects to exactly the addresses it checked. TLS still verifies the
certificate for the URL's host name (httpcore takes the SNI name from the URL, not from the address), and the
Host header is the URL's. So a DNS answer that changes between a check and the connection (rebinding) cannot
slip past, and every redirect hop and every new pooled connection goes through the same check.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from accord.core.limits import declared_too_large
from accord.remote.errors import RemoteError as RemoteError  # noqa: PLC0414 - re-exported: callers name it here

USER_AGENT = "accord/0.1"
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_DEADLINE = 600.0  # seconds for one request: its redirects, its answer and its whole body
ERROR_BODY_BYTES = 65_536  # what is kept of an error answer's body (for its message)
_CREDENTIAL_HEADERS = ("authorization", "cookie")


class ResponseTooLarge(RemoteError):
    """The answer is larger than the limit set for it."""


class AddressRefused(RemoteError):
    """The host is (or resolves to) an address this fetch may not reach."""


def check_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; RemoteError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise RemoteError(f"only http and https URLs can be fetched, not {parts.scheme or 'no scheme'!r}: {url}")
    if not parts.hostname:
        raise RemoteError(f"the URL has no host: {url}")
    return url.strip()


def is_public(address: str) -> bool:
    """Whether an IP address is a global unicast one (not private, loopback, link-local, multicast or reserved)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback however it is written
    return ip.is_global and not ip.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of a host, in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses it resolved and checked itself."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        if not self._allow_private:
            for address in addresses:
                if not is_public(address):
                    raise AddressRefused(f"refusing to fetch from non-public address {address} ({host})")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are never fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose connections go through the address guard."""

    def __init__(self, *, verify: bool | ssl.SSLContext, allow_private: bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        # HTTPTransport takes no network backend; its pool is replaced by an equal one that has the guard.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private),
        )


def guarded_client(*, allow_private: bool = False, timeout: float = 30.0, verify: bool = True) -> httpx.Client:
    """A plain httpx client whose connections pass the same address guard (for streaming reads such as server-sent
    events); it follows no redirects."""
    return httpx.Client(
        transport=_GuardedTransport(verify=verify, allow_private=allow_private),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
    )


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = " ".join(str(exc).split())
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return f"cannot resolve host ({text})"
        return f"cannot connect ({text})"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def basic_auth(username: str, password: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True, slots=True)
class Response:
    """A final (non-redirect) answer with its whole body (an error answer's body cut at ERROR_BODY_BYTES)."""

    status: int
    reason: str
    url: str  # after redirects
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without spaces, lower-cased ('' when absent)."""
        return "".join(self.headers.get("content-type", "").split()).lower()


class SafeClient:
    """One outbound HTTP client: http(s) only, verified TLS, guarded addresses, manual redirects, limits."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        deadline: float = DEFAULT_DEADLINE,
        verify: bool | ssl.SSLContext = True,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.timeout = timeout
        self.connect_timeout = min(timeout, 30.0) if connect_timeout is None else connect_timeout
        self.deadline = deadline
        self.user_agent = user_agent
        self._http = httpx.Client(
            transport=_GuardedTransport(verify=verify, allow_private=allow_private),
            follow_redirects=False,
            trust_env=False,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        max_bytes: int = 104_857_600,
    ) -> Response:
        """The final answer to a request, redirects followed; RemoteError with a one-line reason on failure."""
        start = url
        sent = {"User-Agent": self.user_agent, **(headers or {})}
        end = time.monotonic() + self.deadline
        try:
            for _ in range(MAX_REDIRECTS + 1):
                check_url(url)
                got = self._send(method, url, sent, content, max_bytes, end)
                if isinstance(got, Response):
                    return got
                status, location = got
                target = urljoin(url, location)
                if urlsplit(target).scheme not in ("http", "https"):
                    raise RemoteError(f"{start}: redirected to a non-http URL")
                if _origin(target) != _origin(url):  # credentials stay with the origin they were given for
                    sent = {k: v for k, v in sent.items() if k.lower() not in _CREDENTIAL_HEADERS}
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, content = "GET", None
                url = target
        except httpx.HTTPError as exc:
            raise RemoteError(f"{url}: {_reason(exc)}") from None
        except AddressRefused as exc:  # raised while connecting, where the URL is not known
            raise AddressRefused(f"{url}: {exc.message}") from None
        raise RemoteError(f"{start}: more than {MAX_REDIRECTS} redirects")

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None, max_bytes: int, end: float
    ) -> Response | tuple[int, str]:
        """The answer, or the status and Location of a redirect."""
        left = end - time.monotonic()
        if left <= 0:
            raise httpx.ReadTimeout("overall deadline passed")
        timeout = httpx.Timeout(min(self.timeout, left), connect=min(self.connect_timeout, left))
        request = self._http.build_request(method, url, headers=headers, content=content, timeout=timeout)
        response = self._http.send(request, stream=True)
        try:
            if response.status_code in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise RemoteError(f"{url}: redirect without a location", http_status=response.status_code)
                return response.status_code, location
            if 200 <= response.status_code < 300:
                if declared_too_large(response.headers.get("content-length"), max_bytes):
                    raise ResponseTooLarge(f"{url}: response is larger than {max_bytes:,} bytes")
                body = _read(response.iter_bytes(), max_bytes, end, url)
            else:
                body = _read(response.iter_bytes(), ERROR_BODY_BYTES, end, url, cut=True)
            return Response(
                response.status_code,
                response.reason_phrase,
                url,
                {k.lower(): v for k, v in response.headers.items()},
                body,
            )
        finally:
            response.close()


def _read(chunks: Iterator[bytes], max_bytes: int, end: float, url: str, *, cut: bool = False) -> bytes:
    """The body, refused (or cut) past max_bytes, and given up once the overall deadline passes."""
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        if time.monotonic() > end:
            raise httpx.ReadTimeout("overall deadline passed")
        size += len(chunk)
        if size > max_bytes:
            if cut:
                out.append(chunk[: max_bytes - size])
                break
            raise ResponseTooLarge(f"{url}: response is larger than {max_bytes:,} bytes")
        out.append(chunk)
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class Fetched:
    """One response: 304 (not modified, no body) or 200 with the body and its validators."""

    status: int
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] | None = None

    @property
    def not_modified(self) -> bool:
        """The server said the content has not changed since the validators we sent."""
        return self.status == 304

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, if any."""
        return (self.headers or {}).get("content-type")


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 30.0,
    max_bytes: int = 104_857_600,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    allow_private: bool = False,
    deadline: float = DEFAULT_DEADLINE,
    client: SafeClient | None = None,
) -> Fetched:
    """GET the URL (conditionally, when validators are given); RemoteError with a one-line reason on failure."""
    check_url(url)
    sent = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    if auth:
        sent["Authorization"] = basic_auth(*auth)
    own = client is None
    http = client or SafeClient(allow_private=allow_private, timeout=timeout, deadline=deadline)
    try:
        got = http.request("GET", url, headers=sent, max_bytes=max_bytes)
    finally:
        if own:
            http.close()
    if got.status == 304:
        return Fetched(304, b"", etag, last_modified)
    if not 200 <= got.status < 300:
        raise RemoteError(f"{url}: HTTP {got.status} {got.reason}".rstrip(), http_status=got.status)
    return Fetched(got.status, got.body, got.headers.get("etag"), got.headers.get("last-modified"), got.headers)
