"""Feed errors: a feed that cannot be pulled is a remote failure (502), like any other outbound fetch."""

from __future__ import annotations

from accord.remote.errors import RemoteError


class FeedError(RemoteError):
    """A feed could not be pulled: unreachable, refused, too big or not in the expected format."""
