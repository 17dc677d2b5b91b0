"""HTTP(S) fetching for feeds: conditional requests, timeouts, a size limit and one-line failure reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from accord.core.errors import AccordError
from accord.core.limits import declared_too_large, join_capped

USER_AGENT = "accord-feeds/0.1"
MAX_REDIRECTS = 5


class FeedError(AccordError):
    """A feed could not be pulled: unreachable, refused, too big or not in the expected format."""

    status = 502


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


def check_url(url: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; FeedError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise FeedError(f"feed URL must be http or https, not {parts.scheme or 'no scheme'!r}: {url}")
    if not parts.hostname:
        raise FeedError(f"feed URL has no host: {url}")
    return url.strip()


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        text = " ".join(str(exc).split())
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return f"cannot resolve host ({text})"
        return f"cannot connect ({text})"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 30.0,
    max_bytes: int = 104_857_600,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    client: httpx.Client | None = None,
) -> Fetched:
    """GET the URL (conditionally, when validators are given); FeedError with a one-line reason on failure."""
    check_url(url)
    sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate", **(headers or {})}
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS, trust_env=False)
    try:
        with http.stream("GET", url, headers=sent, auth=auth) as response:
            if response.url.scheme not in ("http", "https"):
                raise FeedError(f"{url}: redirected to a non-http URL")
            if response.status_code == 304:
                return Fetched(304, b"", etag, last_modified)
            if response.status_code >= 400 or response.status_code < 200:
                raise FeedError(f"{url}: HTTP {response.status_code} {response.reason_phrase}".rstrip())
            too_large = FeedError(f"{url}: response is larger than the feed's limit of {max_bytes:,} bytes")
            if declared_too_large(response.headers.get("content-length"), max_bytes):
                raise too_large
            return Fetched(
                response.status_code,
                join_capped(response.iter_bytes(), max_bytes, too_large),
                response.headers.get("etag"),
                response.headers.get("last-modified"),
                dict(response.headers),
            )
    except httpx.HTTPError as exc:
        raise FeedError(f"{url}: {_reason(exc)}") from None
    finally:
        if own:
            http.close()
