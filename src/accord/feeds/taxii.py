"""TAXII 2.1 collections as feeds: objects added since the last pull, page by page (`next`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import orjson

from accord.feeds.fetch import FeedError, fetch

if TYPE_CHECKING:
    from accord.feeds.collect import Collected

TAXII_MEDIA = "application/taxii+json;version=2.1"
MAX_PAGES = 10_000


def objects_url(feed: Any) -> str:
    """The objects endpoint of the feed's collection (the feed URL is the API root)."""
    return f"{feed.url.rstrip('/')}/collections/{feed.taxii_collection}/objects/"


def collect_taxii(feed: Any, client: httpx.Client) -> Collected:
    """Objects added to the remote collection after the feed's cursor, following `next` until `more` is false."""
    # collect imports this module lazily; importing it back here at call time avoids an import cycle.
    from accord.feeds.collect import Collected, feed_auth, feed_tlp, with_default_tlp

    out = Collected(http_status=200)
    cursor = feed.cursor
    token: str | None = None
    auth = feed_auth(feed)
    for _ in range(MAX_PAGES):
        params = {k: v for k, v in (("added_after", cursor if token is None else None), ("next", token)) if v}
        url = objects_url(feed) + (f"?{urlencode(params)}" if params else "")
        got = fetch(url, max_bytes=feed.max_bytes, auth=auth, client=client, headers={"Accept": TAXII_MEDIA})
        out.fetched_bytes += len(got.body)
        try:
            envelope = orjson.loads(got.body) if got.body else {}
        except orjson.JSONDecodeError as exc:
            raise FeedError(f"{url}: invalid content, not a TAXII envelope ({exc})") from None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
            raise FeedError(f"{url}: invalid content, not a TAXII envelope")
        out.objects.extend(envelope.get("objects", []))
        last = got.headers.get("x-taxii-date-added-last") if got.headers else None
        if last:
            out.state["cursor"] = last
        token = envelope.get("next")
        if not envelope.get("more") or not token:
            break
    if not out.objects:
        out.status = "not-modified"
    out.objects = with_default_tlp(out.objects, feed_tlp(feed))
    return out
