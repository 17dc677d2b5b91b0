"""Callbacks run after the store has written new object versions, in the writing transaction.

Features that react to new intelligence (joint intelligence requirements) register here; the store knows
nothing about them. A callback gets the connection and the seqs of the versions stored by one ingest call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

AfterStore = Callable[[Connection, Sequence[int]], None]

_CALLBACKS: dict[str, AfterStore] = {}


def register(name: str, callback: AfterStore) -> None:
    """Run `callback` after every ingest that stored something (registering a name again replaces it)."""
    _CALLBACKS[name] = callback


def run(conn: Connection, seqs: Sequence[int]) -> None:
    """Call every registered callback with the versions just stored."""
    if seqs:
        for callback in list(_CALLBACKS.values()):
            callback(conn, seqs)
