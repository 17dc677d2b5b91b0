"""Scheduled feed pulls, for the worker loop."""

from __future__ import annotations

from sqlalchemy import Engine

from accord.feeds.pull import pull_feeds


def pull_due(engine: Engine) -> int:
    """Pull every feed whose `every_minutes` interval has passed (each in its own transaction); how many."""
    return len(pull_feeds(engine, due_only=True))
