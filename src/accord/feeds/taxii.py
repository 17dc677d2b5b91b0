"""TAXII 2.1 collections as feeds: the objects added since the last pull, through the one TAXII client."""

from __future__ import annotations

from typing import Any

from accord.feeds.collected import Collected, feed_tlp, with_default_tlp
from accord.remote.taxii import RemoteServer, TaxiiClient


def collect_taxii(feed: Any, server: RemoteServer) -> Collected:
    """Every version added to the remote collection after the feed's cursor; the cursor moves to the last date_added."""
    out = Collected(http_status=200)
    with TaxiiClient(server) as client:
        for page in client.objects_pages(feed.taxii_collection, added_after=feed.cursor):
            out.fetched_bytes += page.nbytes
            out.objects.extend(page.objects)
            if page.date_added_last:
                out.state["cursor"] = page.date_added_last
    if not out.objects:
        out.status = "not-modified"
    out.objects = with_default_tlp(out.objects, feed_tlp(feed))
    return out
