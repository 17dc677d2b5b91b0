"""Callbacks run as the store writes new object versions, in the writing transaction.

Features that react to new intelligence (joint intelligence requirements, case correlation) register here; the
store knows nothing about them. Two moments:

- on write (`register_on_write`): once per written batch, with (seq, type, raw JSON) of its new versions, the
  bytes the store already holds, so that a callback that reads every new version (PIR matching) does not read
  them back; the value index of the batch may not be written yet.
- after store (`register`): once per ingest call that stored something, with the seqs of every version it
  stored, once the value index holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import Connection

AfterStore = Callable[[Connection, Sequence[int]], None]
NewVersion = tuple[int, str, bytes]  # seq, type, raw JSON
OnWrite = Callable[[Connection, Sequence[NewVersion]], None]

_CALLBACKS: dict[str, AfterStore] = {}
_ON_WRITE: dict[str, OnWrite] = {}


def register(name: str, callback: AfterStore) -> None:
    """Run `callback` after every ingest that stored something (registering a name again replaces it)."""
    _CALLBACKS[name] = callback


def register_on_write(name: str, callback: OnWrite) -> None:
    """Run `callback` on every written batch of new versions (registering a name again replaces it)."""
    _ON_WRITE[name] = callback


def watching_writes() -> bool:
    """Whether any callback wants the new versions of each batch (else the store builds no list for it)."""
    return bool(_ON_WRITE)


def written(conn: Connection, versions: Sequence[NewVersion]) -> None:
    """Call every on-write callback with one batch's new versions."""
    if versions:
        for callback in list(_ON_WRITE.values()):
            callback(conn, versions)


def run(conn: Connection, seqs: Sequence[int]) -> None:
    """Call every after-store callback with the versions just stored."""
    if seqs:
        for callback in list(_CALLBACKS.values()):
            callback(conn, seqs)
