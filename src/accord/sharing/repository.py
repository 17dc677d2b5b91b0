"""SQL that builds a Principal: which collections an org may read and write, which peer links name it."""

from __future__ import annotations

from sqlalchemy import Connection, or_, select

from accord.core.settings import get_settings
from accord.models.accounts import sharing_group_member
from accord.models.collections import collection_grant, peer
from accord.sharing.policy import Principal, Role
from accord.stix.markings import Tlp


def collections_for_org(conn: Connection, org_id: int, mode: str) -> frozenset[int]:
    """Collections the org may use in this mode, directly or through its sharing groups."""
    g = collection_grant.c
    groups = select(sharing_group_member.c.group_id).where(sharing_group_member.c.org_id == org_id)
    stmt = select(g.collection_id).where(g.mode == mode, or_(g.org_id == org_id, g.group_id.in_(groups)))
    return frozenset(conn.execute(stmt).scalars())


def principal_for(
    conn: Connection,
    *,
    org_id: int,
    role: str,
    user_id: int | None = None,
    email: str = "",
    read_only: bool = False,
) -> Principal:
    """The Principal of a user of `org_id` with `role`."""
    amber_peers = frozenset(conn.execute(select(peer.c.id).where(peer.c.local_org_id == org_id)).scalars())
    return Principal(
        org_id=org_id,
        role=Role(role),
        readable_collections=collections_for_org(conn, org_id, "read"),
        writable_collections=collections_for_org(conn, org_id, "write"),
        amber_peers=amber_peers,
        user_id=user_id,
        email=email,
        read_only=read_only,
        default_tlp=Tlp.parse(get_settings().default_tlp),
    )
