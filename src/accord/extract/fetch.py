"""Fetch a report over HTTP(S) without becoming a proxy into private networks."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from accord.core.limits import declared_too_large, join_capped

_MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


def _refuse_private(host: str, port: int) -> None:
    """Raise unless every address the host resolves to is a public (global) one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise ValueError(f"refusing to fetch from non-public address {address} ({host})")


def _check_url(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"only http and https URLs can be fetched, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if not allow_private:
        _refuse_private(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def fetch_url(
    url: str, *, max_bytes: int = 20_000_000, timeout: float = 20, allow_private: bool = False
) -> tuple[bytes, str | None]:
    """(body, content type) of the URL; ValueError with a one-line reason on refusal or failure."""
    # The address check and the connection resolve separately; a rebinding DNS server could answer
    # differently in between. Checking every hop still stops plain links and redirects into private ranges.
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            for _ in range(_MAX_REDIRECTS + 1):
                _check_url(url, allow_private)
                with client.stream("GET", url, headers={"User-Agent": "accord-extract/0.1"}) as response:
                    if response.status_code in _REDIRECTS:
                        location = response.headers.get("location")
                        if not location:
                            raise ValueError(f"redirect without a location from {url}")
                        url = urljoin(url, location)
                        continue
                    if response.status_code >= 400:
                        raise ValueError(f"HTTP {response.status_code} from {url}")
                    too_large = ValueError(f"response is larger than {max_bytes} bytes")
                    if declared_too_large(response.headers.get("content-length"), max_bytes):
                        raise too_large
                    body = join_capped(response.iter_bytes(), max_bytes, too_large)
                    return body, response.headers.get("content-type")
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot fetch {url}: {type(exc).__name__}: {' '.join(str(exc).split())}") from exc
    raise ValueError(f"more than {_MAX_REDIRECTS} redirects")
