"""The failure of a call to another server, in a module of its own: code that only names it (feed parsers,
file imports) does not load the HTTP client."""

from __future__ import annotations

from accord.core.errors import AccordError


class RemoteError(AccordError):
    """Another server could not be used: refused, unreachable, too slow, too big or answering garbage."""

    status = 502

    def __init__(self, message: str, status: int | None = None, *, http_status: int | None = None) -> None:
        super().__init__(message, status)
        self.http_status = http_status  # the remote's HTTP status when it answered one (callers back off on 429/5xx)
