"""Copies: the versions each holder (an owner, over a link) keeps of an id, and what decides a write (W2, W3).

An id is held in copies, one per (owner, link): each organisation keeps its own copy of an SCO, and what one
holder stores never decides another's write unless the writer may read it (docs/store.md, "Copies").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from accord.sharing.policy import ObjectFacts, Principal, Role, can_read
from accord.sharing.repository import principal_for
from accord.stix.ids import id_type
from accord.stix.markings import Tlp
from accord.store import repository as repo
from accord.store.prepare import Prepared


@dataclass(slots=True)
class CopyState:
    """The versions one copy holds of an id (stored, and accepted in this write), as writes are decided."""

    owner: int | None = None
    versions: dict[str, tuple[bytes, int | None]] = field(default_factory=dict)  # version -> (hash, seq)
    latest_seq: int | None = None
    latest_version: str | None = None
    revoked_at: str | None = None
    first: str | None = None  # a version whose modified equals its created: by STIX 2.1, the object's first

    def record(self, row: Any) -> None:
        """Take in one stored version (a row of repo.existing_versions)."""
        self.owner = row.owner_org_id
        version = row.version
        if version and version == row.created:
            self.first = version
        self.versions[version] = (row.body_hash, row.seq)
        if row.is_latest:
            self.latest_seq, self.latest_version = row.seq, version
        if row.revoked and (self.revoked_at is None or version < self.revoked_at):
            self.revoked_at = version

    def accept(self, item: Prepared, owner: int) -> None:
        """Record a version the versioning rules accepted (or that no rule can refuse: the first one known)."""
        version = item.version
        self.owner = owner
        if version and version == item.created:
            self.first = version
        self.versions[version] = (item.body_hash, None)
        if item.revoked and (self.revoked_at is None or version < self.revoked_at):
            self.revoked_at = version


Candidate = tuple[Prepared, int]  # the prepared object and its owner
Accepted = tuple[Prepared, int, CopyState]  # an accepted version, its owner, and its copy's state
_FOREIGN = -1  # the owner of a state made of other copies' readable versions: no writer's organisation


@dataclass(slots=True)
class Stored:
    """What is stored of a batch's ids: the states of the copies this write's link holds, by owner and id (the
    copies its versions may join), and every stored row (all copies), which only a minority of batches have."""

    mine: dict[int, dict[str, CopyState]]
    rows: list[Any]

    def copy_of(self, owner: int) -> dict[str, CopyState]:
        """The states of the copies that `owner` holds over this write's link, by id."""
        got = self.mine.get(owner)
        if got is None:
            got = self.mine[owner] = {}
        return got


def load_states(conn: Connection, candidates: list[Candidate], peer_id: int | None) -> Stored:
    """Each stored copy (of this write's link) of the candidates' ids as a state, and all the stored rows."""
    stored = Stored({}, repo.existing_versions(conn, {c[0].id: c[0].id_key for c in candidates}))
    for row in stored.rows:
        if row.peer_id == peer_id:
            states = stored.copy_of(row.owner_org_id)
            st = states.get(row.id)
            if st is None:
                st = states[row.id] = CopyState()
            st.record(row)
    return stored


def foreign_states(
    conn: Connection, candidates: list[Candidate], stored: Stored, reader: Principal | None, writer_org_id: int
) -> dict[str, CopyState]:
    """Per id, the versions of other copies the writer may read, for the writes they decide (W2, W3).

    A local write of a versioned object that its owner does not hold yet is decided against the versions of it
    that others hold and the writer may read: a new version of another organisation's object is refused (W2),
    an identical one is a duplicate. Versions the writer may not read decide nothing: the write then makes the
    owner's own copy, exactly as if the id were not stored (W3). Unversioned objects (SCOs: a value, not a
    producer's statement) always go to their own copy; so does what arrives over a link (the caller asks only
    for local writes). Without a `reader`, the writer organisation's analysts' view is taken.
    """
    wanted = {item.id for item, owner in candidates if item.version and item.id not in stored.copy_of(owner)}
    others = [r for r in stored.rows if r.id in wanted]
    if not others:
        return {}
    reader = reader or principal_for(conn, org_id=writer_org_id, role=Role.ANALYST.value)
    members = repo.memberships(conn, [r.seq for r in others]) if not reader.is_admin else {}
    identities = repo.local_identities(conn)
    foreign: dict[str, CopyState] = {}
    for row in others:
        facts = ObjectFacts(
            stix_id=row.id,
            type=id_type(row.id),
            owner_org_id=row.owner_org_id,
            tlp=None if row.tlp is None else Tlp(row.tlp),
            peer_id=row.peer_id,
            memberships=tuple(members.get(row.seq, ())),
            is_org_identity=row.id in identities,
        )
        if can_read(reader, facts):
            st = foreign.get(row.id)
            if st is None:
                st = foreign[row.id] = CopyState()
            st.record(row)
            st.owner = _FOREIGN
    return foreign


def shared_ids(stored: Stored, accepted: list[Accepted], peer_id: int | None) -> dict[str, int]:
    """Ids (with their id_key) that the accepted versions leave held in more than one copy."""
    holders: dict[str, set[tuple[int, int | None]]] = {}
    keys: dict[str, int] = {}
    for row in stored.rows:
        holders.setdefault(row.id, set()).add((row.owner_org_id, row.peer_id))
    for item, owner, _ in accepted:
        holders.setdefault(item.id, set()).add((owner, peer_id))
        keys[item.id] = item.id_key
    return {oid: key for oid, key in keys.items() if len(holders[oid]) > 1}


def decide(st: CopyState, item: Prepared, owner: int) -> str | None:
    """The versioning rules (W2, revocation, one version for SCOs); updates the state when accepted."""
    known = st.versions.get(item.version)
    if known is not None:
        if known[0] == item.body_hash:
            return "duplicate"
        if item.version:
            return (
                f"a different body is already stored for version {item.version}; "
                "a changed object needs a new modified timestamp"
            )
        return "a different body is already stored (this object type is not versioned: it has one version)"
    if st.owner is not None and st.owner != owner:
        return "only the owner organisation may create new versions (W2)"
    if st.revoked_at is not None and item.version > st.revoked_at:
        return f"object was revoked in version {st.revoked_at}; no later versions are accepted"
    if st.versions and not item.version:
        return "this object type is not versioned and is already stored"
    reason = _first_version_conflict(st, item)
    if reason is not None:
        return reason
    st.accept(item, owner)
    return None


def _first_version_conflict(st: CopyState, item: Prepared) -> str | None:
    # `created` is when an object's first version was made, and a version whose modified equals its created
    # is that first version (lookups rely on it for first seen): no stored version may be older than it.
    if not item.version:
        return None
    if st.first is not None and item.version < st.first:
        return f"version {st.first} is this object's first (its modified equals its created); no older version fits"
    if item.version == item.created and any(v and v < item.version for v in st.versions):
        return (
            "this version's timestamp equals its created, which makes it the object's first, but an older one is stored"
        )
    return None
