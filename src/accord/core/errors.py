"""One error hierarchy: every expected failure is an AccordError with a message and an HTTP status."""

from __future__ import annotations


class AccordError(Exception):
    """An expected failure, shown to the user as one line (CLI) or an error document (HTTP)."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(AccordError):
    status = 400


class Unauthorized(AccordError):
    status = 401


class Forbidden(AccordError):
    status = 403


class NotFound(AccordError):
    status = 404


class Conflict(AccordError):
    status = 409


class PayloadTooLarge(AccordError):
    status = 413


class UnsupportedMediaType(AccordError):
    status = 415


class NotAcceptable(AccordError):
    status = 406


class TooManyRequests(AccordError):
    """A request refused for now; `retry_after` (whole seconds) is sent as the Retry-After header."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(AccordError):
    """The node cannot take this request now (say, another writer held the database too long); nothing of it was
    kept, and the same request may be sent again after `retry_after` seconds (the Retry-After header)."""

    status = 503

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


def failure_line(exc: BaseException, limit: int = 300) -> str:
    """An unexpected exception as one line for a recorded status (a failed pull or sync): its type and message."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:limit]}"
