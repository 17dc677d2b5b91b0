"""Fetching a feed's new content over HTTP, per format, before anything is written."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from accord.core.errors import AccordError
from accord.core.keys import decrypt_secret
from accord.core.settings import get_settings
from accord.feeds import misp
from accord.feeds.collected import Collected, feed_tlp, with_default_tlp
from accord.feeds.errors import FeedError
from accord.feeds.parse import parse_csv, parse_text
from accord.feeds.taxii import collect_taxii
from accord.remote.http import Fetched, SafeClient, fetch
from accord.remote.taxii import RemoteServer
from accord.store.sources import parse_bundle

FORMATS = ("misp", "csv", "text", "stix", "taxii")


def _client(feed: Any) -> SafeClient:
    settings = get_settings()
    return SafeClient(
        allow_private=settings.feeds_allow_private, timeout=feed.timeout_seconds, user_agent="accord-feeds/0.1"
    )


def feed_auth(feed: Any) -> tuple[str, str] | None:
    """The feed's HTTP Basic credentials, its password decrypted (SecretError if it cannot be), or None."""
    if not feed.username:
        return None
    return (feed.username, decrypt_secret(feed.password) if feed.password else "")


def taxii_server(feed: Any) -> RemoteServer:
    """The TAXII server of a taxii feed (its URL: an API root or a discovery URL), with its credentials."""
    auth = feed_auth(feed)
    return RemoteServer(
        url=feed.url,
        username=auth[0] if auth else None,
        password=auth[1] if auth else None,
        allow_private=get_settings().feeds_allow_private,
        timeout=feed.timeout_seconds,
        max_bytes=feed.max_bytes,
        user_agent="accord-feeds/0.1",
    )


def _conditional(feed: Any, client: SafeClient, url: str) -> tuple[Fetched, Collected]:
    """Fetch with the feed's validators; the Collected says not-modified on a 304 or an unchanged body."""
    got = fetch(
        url,
        etag=feed.etag,
        last_modified=feed.last_modified,
        max_bytes=feed.max_bytes,
        auth=feed_auth(feed),
        client=client,
    )
    digest = hashlib.sha256(got.body).hexdigest() if not got.not_modified else feed.content_hash
    out = Collected(http_status=got.status, fetched_bytes=len(got.body))
    out.state = {"etag": got.etag, "last_modified": got.last_modified, "content_hash": digest}
    if got.not_modified or digest == feed.content_hash:
        out.status = "not-modified"
    return got, out


def _plain(feed: Any, client: SafeClient) -> Collected:
    got, out = _conditional(feed, client, feed.url)
    if out.status == "not-modified":
        return out
    if feed.format == "text":
        parsed = parse_text(got.body, feed.url, feed.item_type)
    else:
        parsed = parse_csv(got.body, feed.url, feed.csv_columns, feed.delimiter, feed.skip_header, feed.item_type)
    out.items, out.skipped, out.reasons = parsed.items, parsed.skipped, parsed.reasons
    return out


def _stix(feed: Any, client: SafeClient) -> Collected:
    got, out = _conditional(feed, client, feed.url)
    if out.status == "not-modified":
        return out
    out.objects = with_default_tlp(parse_bundle(got.body, feed.url), feed_tlp(feed))
    return out


def misp_base(url: str) -> str:
    """The feed folder URL for a MISP feed given as its folder or its manifest.json."""
    url = url.strip()
    if url.endswith("manifest.json"):
        return url[: -len("manifest.json")]
    return url.rstrip("/") + "/"


def _json(body: bytes, name: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FeedError(f"{name}: invalid content, not JSON ({exc})") from None


def _misp(feed: Any, client: SafeClient, seen: Mapping[str, str]) -> Collected:
    base = misp_base(feed.url)
    got, out = _conditional(feed, client, base + "manifest.json")
    if out.status == "not-modified":
        return out
    changes = misp.manifest_changes(_json(got.body, base + "manifest.json"), seen)
    tlp = feed_tlp(feed)
    for event_uuid, stamp in changes:
        url = f"{base}{event_uuid}.json"
        event = fetch(url, max_bytes=feed.max_bytes, auth=feed_auth(feed), client=client)
        out.fetched_bytes += len(event.body)
        try:
            creator, objects = misp.event_objects(_json(event.body, url), tlp)
        except AccordError as exc:
            raise FeedError(f"{url}: {exc.message}") from None
        if creator is None:
            out.objects.extend(objects)
        else:
            out.creators.setdefault(creator.identity, creator)
            out.by_creator.setdefault(creator.identity, []).extend(objects)
        out.marks[event_uuid] = stamp
    return out


def collect(feed: Any, seen: Mapping[str, str]) -> Collected:
    """Fetch what is new in a feed (nothing is written); RemoteError with a one-line reason on failure."""
    if feed.format == "taxii":
        return collect_taxii(feed, taxii_server(feed))
    with _client(feed) as client:
        if feed.format in ("text", "csv"):
            return _plain(feed, client)
        if feed.format == "stix":
            return _stix(feed, client)
        if feed.format == "misp":
            return _misp(feed, client, seen)
    raise FeedError(f"unknown feed format {feed.format!r}; use one of {', '.join(FORMATS)}")
