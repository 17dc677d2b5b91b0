"""THE sharing policy: the only code in Accord that decides who may read what.

Every read path -- TAXII objects/manifest/versions/by-id/status, REST, search, lookup, correlation, export,
stream, sync-out and UI -- MUST filter through this module: `can_read` for one object, `readable_clause` /
`visible_versions_clause` for every SQL query. A new read path that does not is a security bug. The two faces
implement the same rules (ARCHITECTURE.md R0-R7) and a property-based test holds them equal.

Rules:
  R0 a node admin reads everything.
  R1 members of the owner org read all versions of their org's objects; what arrived over a link (a peer or a
     feed) is read, at every TLP, by the members of the local org the link belongs to (its recipient).
  R6 marking-definitions and the identity objects of the community's organisations (not of remote records, such
     as a feed's source) are readable by every authenticated user.
  R2 TLP:RED and TLP:AMBER+STRICT objects are readable only under R0/R1.
  R5 unmarked objects count as the node's default TLP.
  R4 TLP:AMBER owned by another org: local content only through a collection the owner itself published it
     into; content received over a link only by the local org the link belongs to (R1), never a second hop.
  R3 otherwise: readable when in at least one collection the reader's org may read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, case, exists, func, literal, or_, select, true

from accord.models.accounts import org
from accord.models.objects import collection_object, same_object, stix_object
from accord.stix.markings import Tlp


class Role(StrEnum):
    """What a user may do on the node."""

    ADMIN = "admin"
    ANALYST = "analyst"
    READER = "reader"
    SYNC = "sync"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user (or token) of one organisation, with the collections its org may use."""

    org_id: int
    role: Role
    readable_collections: frozenset[int] = frozenset()
    writable_collections: frozenset[int] = frozenset()
    amber_peers: frozenset[int] = frozenset()  # links (peers, feeds) that belong to this org: it reads what they bring
    user_id: int | None = None
    email: str = ""
    read_only: bool = False
    default_tlp: Tlp = Tlp.AMBER

    @property
    def is_admin(self) -> bool:
        """R0 applies."""
        return self.role is Role.ADMIN

    @property
    def can_write(self) -> bool:
        """Whether this principal may write at all (role and token)."""
        return not self.read_only and self.role in (Role.ADMIN, Role.ANALYST, Role.SYNC)


@dataclass(frozen=True, slots=True)
class ObjectFacts:
    """What the policy needs to know about one stored object version."""

    stix_id: str
    type: str
    owner_org_id: int
    tlp: Tlp | None
    peer_id: int | None = None
    memberships: tuple[tuple[int, int], ...] = field(default=())  # (collection_id, added_by_org_id)
    is_org_identity: bool = False  # the identity object of a (local) organisation of the node (R6)


def effective_tlp(tlp: Tlp | None, default: Tlp) -> Tlp:
    """R5: an unmarked object counts as the node default."""
    return default if tlp is None else tlp


def can_read(principal: Principal, obj: ObjectFacts) -> bool:
    """The predicate face: may this principal read this object version?"""
    if principal.is_admin:  # R0
        return True
    if obj.owner_org_id == principal.org_id:  # R1
        return True
    if obj.peer_id is not None and obj.peer_id in principal.amber_peers:  # R1: the link's recipient
        return True
    if obj.type == "marking-definition" or obj.is_org_identity:  # R6
        return True
    tlp = effective_tlp(obj.tlp, principal.default_tlp)
    if tlp >= Tlp.AMBER_STRICT:  # R2
        return False
    readable = principal.readable_collections
    if tlp == Tlp.AMBER:  # R4
        if obj.peer_id is not None:
            return False  # only the link's recipient (R1)
        return any(c in readable and by == obj.owner_org_id for c, by in obj.memberships)
    return any(c in readable for c, _ in obj.memberships)  # R3


def readable_clause(
    principal: Principal,
    obj: FromClause = stix_object,
    member: FromClause = collection_object,
    *,
    member_tick: ColumnElement[Any] | None = None,
) -> ColumnElement[bool]:
    """The SQL face: a WHERE clause over an alias of stix_object true exactly when can_read holds.

    `member` is the table whose rows are the version's memberships (ObjectFacts.memberships): by default the
    current ones. With collection_removal (and `member_tick`, the tick of one removal) it is true exactly when
    that removed membership would have made the version readable: can_read with it as the only membership.
    """
    if principal.is_admin:
        return true()
    c = obj.c
    clauses: list[ColumnElement[bool]] = [
        c.owner_org_id == principal.org_id,
        c.type == "marking-definition",
        and_(c.type == "identity", c.id.in_(select(org.c.stix_id).where(org.c.is_remote.is_(False)))),
    ]
    if principal.amber_peers:
        clauses.append(c.peer_id.in_(sorted(principal.amber_peers)))
    readable = sorted(principal.readable_collections)
    if readable:
        # One membership probe per row: R3 for CLEAR/GREEN, R4 for AMBER (local content the owner itself
        # published; AMBER that arrived over a link is its recipient's alone, above). R2 is the outer TLP bound.
        tlp = func.coalesce(c.tlp, literal(int(principal.default_tlp)))
        m = member.c
        amber_ok = and_(c.peer_id.is_(None), m.added_by_org_id == c.owner_org_id)
        probe = [
            m.object_seq == c.seq,
            # `+ 0` keeps the planner on the (object_seq, ...) prefix: one index seek per row that then
            # reads the object's few memberships, instead of one seek per readable collection.
            (m.collection_id + 0).in_(readable),
            or_(tlp <= int(Tlp.GREEN), amber_ok),
        ]
        if member_tick is not None:
            probe.insert(0, m.tick == member_tick)
        clauses.append(and_(tlp <= int(Tlp.AMBER), exists().where(*probe)))
    return or_(*clauses)


def _own(principal: Principal, obj: FromClause) -> ColumnElement[bool]:
    # The reader's organisation's copy: its own, or one that arrived over a link of its own (a feed, a peer).
    own = obj.c.owner_org_id == principal.org_id
    if principal.amber_peers:
        return or_(own, func.coalesce(obj.c.peer_id.in_(sorted(principal.amber_peers)), False))
    return own


def preferred_over(principal: Principal, a: FromClause, b: FromClause, *, newest: bool) -> ColumnElement[bool]:
    """Whether version `a` comes before version `b` of the same id for this reader.

    An id may be held in several copies (accord.store.service); a reader sees one object per id: its own
    organisation's copy (one it owns, or one that arrived over a link of its own) when it holds one, else the
    newest (with `newest`; else the oldest) version of any copy, by version and then by when it was stored.
    """
    own_a, own_b = _own(principal, a), _own(principal, b)
    if newest:
        later = or_(a.c.version > b.c.version, and_(a.c.version == b.c.version, a.c.seq > b.c.seq))
    else:
        later = or_(a.c.version < b.c.version, and_(a.c.version == b.c.version, a.c.seq < b.c.seq))
    return or_(and_(own_a, ~own_b), and_(own_a == own_b, later))


def preferred_first(principal: Principal, obj: FromClause = stix_object) -> list[ColumnElement[Any]]:
    """ORDER BY terms that put the version preferred_over the others first (own copy, then newest)."""
    return [case((_own(principal, obj), 1), else_=0).desc(), obj.c.version.desc(), obj.c.seq.desc()]


def visible_versions_clause(
    principal: Principal,
    obj: FromClause = stix_object,
    *,
    latest_only: bool,
    scope: Callable[[FromClause], ColumnElement[bool]] | None = None,
) -> ColumnElement[bool]:
    """Readable versions; with latest_only, one version per id: the newest readable version of the reader's own
    copy when it holds one, else of any copy (preferred_over).

    `scope(newer)` narrows which other versions count (e.g. only those in one TAXII collection); it gets an
    alias of stix_object and returns a clause over it.
    """
    readable = readable_clause(principal, obj)
    if not latest_only:
        return readable
    newer = stix_object.alias("newer")
    newer_clauses: list[ColumnElement[bool]] = [
        same_object(newer, obj),
        preferred_over(principal, newer, obj, newest=True),
    ]
    if not principal.is_admin:
        newer_clauses.append(readable_clause(principal, newer))
    # The newest version of an id held in one copy is what every reader who may read it sees: only the others
    # need the probe for a preferred version.
    sole_latest = and_(obj.c.is_latest == true(), obj.c.sole_copy == true())
    if scope is not None:
        newer_clauses.append(scope(newer))
        return and_(readable, ~exists().where(*newer_clauses))
    if principal.is_admin:  # every version is readable: the one seen is always its copy's newest
        return and_(obj.c.is_latest == true(), or_(obj.c.sole_copy == true(), ~exists().where(*newer_clauses)))
    return and_(readable, or_(sole_latest, ~exists().where(*newer_clauses)))
