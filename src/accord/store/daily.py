"""Per-day counts of stored object versions, kept by the write path in the writing transaction.

A row of daily_count (accord.models.objects) counts the versions stored on one day that share every fact the
sharing policy decides on, except the id: owner, provenance, TLP, kind and collection memberships. The store
adds new versions here as it writes them, and re-classes a version whenever its memberships change (added to a
collection later, removed by a TAXII DELETE or a peer's removal). accord.store.queries.daily_counts answers the
dashboard from it through accord.sharing.policy.can_read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import IntEnum
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from accord.models.objects import collection_object, daily_count, stix_object

DAY_US = 86_400_000_000
IN_CHUNK = 900

Key = tuple[int, int, int, int, int, str]  # day, owner_org_id, peer_id (0: local), tlp (-1: unmarked), kind, members


class Kind(IntEnum):
    """The object types the policy or the dashboard tells apart."""

    OTHER = 0
    SIGHTING = 1
    MARKING = 2  # marking-definition: readable by every user (R6)
    IDENTITY = 3  # readable by every user when it is an organisation's (R6): counted per version instead


_KINDS = {"sighting": Kind.SIGHTING, "marking-definition": Kind.MARKING, "identity": Kind.IDENTITY}


def kind_of(stix_type: str) -> Kind:
    """The kind a version of this type is counted under."""
    return _KINDS.get(stix_type, Kind.OTHER)


def members_key(memberships: Iterable[tuple[int, bool]]) -> str:
    """A version's memberships as (collection id, added by the owner itself), in one canonical string."""
    return " ".join(sorted(f"{cid}:{int(by_owner)}" for cid, by_owner in memberships))


def parse_members(members: str) -> tuple[tuple[int, bool], ...]:
    """The memberships a members_key names."""
    out = []
    for part in members.split():
        cid, by_owner = part.split(":")
        out.append((int(cid), by_owner == "1"))
    return tuple(out)


def key_of(seq: int, owner: int, peer_id: int | None, tlp: int | None, stix_type: str, members: str) -> Key:
    """The row a version is counted in."""
    return (seq // DAY_US, owner, peer_id or 0, -1 if tlp is None else int(tlp), int(kind_of(stix_type)), members)


def add(conn: Connection, deltas: Counter[Key]) -> None:
    """Add these counts (negative to take away) in one upsert."""
    rows = [
        {"day": k[0], "owner_org_id": k[1], "peer_id": k[2], "tlp": k[3], "kind": k[4], "members": k[5], "n": n}
        for k, n in deltas.items()
        if n
    ]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(daily_count)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "owner_org_id", "peer_id", "tlp", "kind", "members"],
        set_={"n": daily_count.c.n + stmt.excluded.n},
    )
    conn.execute(stmt, sorted(rows, key=lambda r: tuple(r.values())))  # one lock order for concurrent writers


def count_new(
    conn: Connection,
    versions: Sequence[tuple[int, str, int, int | None, int | None]],
    collection_id: int | None,
    writer_org_id: int | None,
) -> None:
    """Count versions just stored, given in seq order as (seq, type, owner, peer_id, tlp), each added to
    `collection_id` by `writer_org_id` (or to no collection)."""
    if not versions:
        return
    # A batch's seqs are consecutive ticks, nearly always of one day: versions are told apart by their other
    # facts (counted by Counter in C), and each distinct class is keyed once.
    first_day, last_day = versions[0][0] // DAY_US, versions[-1][0] // DAY_US
    by_day = (
        [(first_day, Counter(map(_CLASS, versions)))]
        if first_day == last_day
        else [(day, Counter(map(_CLASS, group))) for day, group in groupby(versions, _day_of)]
    )
    deltas: Counter[Key] = Counter()
    for day, classes_of_day in by_day:
        for (stix_type, owner, peer_id, tlp), n in classes_of_day.items():
            members = "" if collection_id is None else members_key([(collection_id, writer_org_id == owner)])
            deltas[key_of(day * DAY_US, owner, peer_id, tlp, stix_type, members)] += n
    add(conn, deltas)


_CLASS = itemgetter(1, 2, 3, 4)


def _day_of(version: tuple[Any, ...]) -> int:
    return int(version[0]) // DAY_US


def classes(conn: Connection, seqs: Sequence[int]) -> Counter[Key]:
    """The rows these stored versions are counted in now (one per version)."""
    o, m = stix_object.c, collection_object.c
    found: dict[int, list[Any]] = {}
    wanted = sorted(set(seqs))
    for i in range(0, len(wanted), IN_CHUNK):
        part = wanted[i : i + IN_CHUNK]
        stmt = (
            select(o.seq, o.owner_org_id, o.peer_id, o.tlp, o.type, m.collection_id, m.added_by_org_id)
            .select_from(stix_object.outerjoin(collection_object, m.object_seq == o.seq))
            .where(o.seq.in_(part))
        )
        for seq, owner, peer_id, tlp, stix_type, cid, by in conn.execute(stmt):
            entry = found.setdefault(seq, [owner, peer_id, tlp, stix_type, []])
            if cid is not None:
                entry[4].append((cid, by == owner))
    return Counter(
        key_of(seq, owner, peer_id, tlp, stix_type, members_key(members))
        for seq, (owner, peer_id, tlp, stix_type, members) in found.items()
    )


def moved(conn: Connection, before: Counter[Key], seqs: Sequence[int]) -> None:
    """Re-class versions whose memberships just changed: `before` is what classes() said before the change."""
    deltas = classes(conn, seqs)
    deltas.subtract(before)
    add(conn, deltas)


def rebuild(conn: Connection) -> None:
    """Recount every stored version (tests load rows directly; `accord` never needs this)."""
    conn.execute(daily_count.delete())
    seqs = list(conn.execute(select(stix_object.c.seq)).scalars())
    add(conn, classes(conn, seqs))
