"""TAXII 2.1 collections as feeds: the objects added since the last pull, through the one TAXII client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from accord.remote.taxii import RemoteServer, TaxiiClient

if TYPE_CHECKING:
    from accord.feeds.collect import Collected


def collect_taxii(feed: Any, server: RemoteServer) -> Collected:
    """Every version added to the remote collection after the feed's cursor; the cursor moves to the last date_added."""
    # collect imports this module lazily; importing it back here at call time avoids an import cycle.
    from accord.feeds.collect import Collected, feed_tlp, with_default_tlp

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
