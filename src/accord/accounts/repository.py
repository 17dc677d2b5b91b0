"""All SQL of accounts: organisations, users, tokens, sign-in failures, sharing groups, collections and grants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, String, Table, cast, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.core.errors import Conflict
from accord.core.names import name_key
from accord.models.accounts import (
    api_token,
    app_user,
    login_failure,
    org,
    sharing_group,
    sharing_group_member,
)
from accord.models.collections import collection, collection_grant, peer, peer_org
from accord.models.objects import node_setting

GENERATION_KEY = "credentials_generation"


# --- organisations and groups ----------------------------------------------------------------------------------


def get_org_by_name(conn: Connection, name: str) -> Any | None:
    """The organisation row with this name (compared by name_key: case, width and spacing aside), or None."""
    return conn.execute(select(org).where(org.c.name_key == name_key(name))).first()


def get_org(conn: Connection, org_id: int) -> Any:
    """The organisation row with this id (it exists)."""
    return conn.execute(select(org).where(org.c.id == org_id)).one()


def get_org_by_identity(conn: Connection, stix_id: str) -> Any | None:
    """The organisation row whose identity object has this id, or None."""
    return conn.execute(select(org).where(org.c.stix_id == stix_id)).first()


def list_orgs(conn: Connection, *, remote: bool = True) -> list[Any]:
    """The organisations by name; without `remote`, only the node's own (no remote records)."""
    stmt = select(org).order_by(org.c.name)
    return list(conn.execute(stmt if remote else stmt.where(org.c.is_remote.is_(False))))


def host_org(conn: Connection) -> Any | None:
    """The node's host organisation (created by `accord init`)."""
    return conn.execute(select(org).where(org.c.is_host.is_(True))).first()


def is_feed_source(conn: Connection, org_id: int) -> bool:
    """Whether a feed's link speaks for this organisation (accord.feeds: it owns what the feed brings)."""
    stmt = (
        select(peer_org.c.org_id)
        .join(peer, peer.c.id == peer_org.c.peer_id)
        .where(peer_org.c.org_id == org_id, peer.c.kind == "feed")
        .limit(1)
    )
    return conn.execute(stmt).first() is not None


def insert_named(conn: Connection, table: Table, row: dict[str, Any], conflict: str) -> int:
    """Insert an organisation or group row; Conflict if a concurrent transaction took its name first."""
    try:
        with conn.begin_nested():  # a savepoint: the unique-index error must not end the caller's transaction
            return int(conn.execute(insert(table).values(row)).inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:
        raise Conflict(conflict) from None


def get_group_by_name(conn: Connection, name: str) -> Any | None:
    """The sharing group with this name (compared by name_key, like organisations), or None."""
    return conn.execute(select(sharing_group).where(sharing_group.c.name_key == name_key(name))).first()


def insert_group_members(conn: Connection, group_id: int, org_ids: list[int]) -> None:
    """Add these organisations to a sharing group (none of them a member yet)."""
    if org_ids:
        conn.execute(insert(sharing_group_member), [{"group_id": group_id, "org_id": m} for m in org_ids])


def is_group_member(conn: Connection, group_id: int, org_id: int) -> bool:
    """Whether the organisation is a member of the sharing group."""
    m = sharing_group_member.c
    return conn.execute(select(m.org_id).where(m.group_id == group_id, m.org_id == org_id)).first() is not None


def delete_group_member(conn: Connection, group_id: int, org_id: int) -> None:
    """Remove an organisation from a sharing group."""
    m = sharing_group_member.c
    conn.execute(sharing_group_member.delete().where(m.group_id == group_id, m.org_id == org_id))


def group_rows(conn: Connection) -> list[Any]:
    """(group name, member org name or None) rows, by group and member name."""
    stmt = (
        select(sharing_group.c.name, org.c.name.label("org"))
        .join(sharing_group_member, sharing_group_member.c.group_id == sharing_group.c.id, isouter=True)
        .join(org, org.c.id == sharing_group_member.c.org_id, isouter=True)
        .order_by(sharing_group.c.name, org.c.name)
    )
    return list(conn.execute(stmt))


# --- users -----------------------------------------------------------------------------------------------------


def get_user_by_email(conn: Connection, email: str) -> Any | None:
    """The user row with this e-mail (case-insensitive), or None."""
    return conn.execute(select(app_user).where(app_user.c.email == email.strip().lower())).first()


def insert_user(conn: Connection, row: dict[str, Any]) -> None:
    """Store a new user row."""
    conn.execute(insert(app_user).values(row))


def set_user_disabled(conn: Connection, user_id: int, disabled: bool) -> None:
    """Disable or enable a user."""
    conn.execute(update(app_user).where(app_user.c.id == user_id).values(disabled=disabled))


def list_users(conn: Connection) -> list[Any]:
    """All users with their organisation's name."""
    stmt = (
        select(app_user.c.id, app_user.c.email, app_user.c.role, app_user.c.disabled, org.c.name.label("org"))
        .join(org, org.c.id == app_user.c.org_id)
        .order_by(app_user.c.email)
    )
    return list(conn.execute(stmt))


# --- tokens ----------------------------------------------------------------------------------------------------


def insert_token(conn: Connection, row: dict[str, Any]) -> None:
    """Store a new token row (its hash, never the token)."""
    conn.execute(insert(api_token).values(row))


def revoke_token(conn: Connection, prefix: str, at_us: int) -> bool:
    """Mark the active token with this prefix revoked; whether there was one."""
    result = conn.execute(
        update(api_token).where(api_token.c.prefix == prefix, api_token.c.revoked_us.is_(None)).values(revoked_us=at_us)
    )
    return bool(result.rowcount)


def list_tokens(conn: Connection, user_id: int | None = None) -> list[Any]:
    """All tokens, or one user's, oldest first (never their hashes)."""
    stmt = (
        select(
            api_token.c.prefix,
            app_user.c.email,
            api_token.c.read_only,
            api_token.c.expires_us,
            api_token.c.revoked_us,
            api_token.c.created_us,
            api_token.c.last_used_us,
        )
        .join(app_user, app_user.c.id == api_token.c.user_id)
        .order_by(api_token.c.created_us)
    )
    if user_id is not None:
        stmt = stmt.where(app_user.c.id == user_id)
    return list(conn.execute(stmt))


def token_with_user(conn: Connection, prefix: str) -> Any | None:
    """The token row with this prefix joined with its user's e-mail, org, role and state, or None."""
    return conn.execute(
        select(api_token, app_user.c.email, app_user.c.org_id, app_user.c.role, app_user.c.disabled)
        .join(app_user, app_user.c.id == api_token.c.user_id)
        .where(api_token.c.prefix == prefix)
    ).first()


def touch_token(conn: Connection, prefix: str, at_us: int, older_than_us: int) -> None:
    """Set a token's last use to at_us, unless it is already more recent than older_than_us."""
    last = api_token.c.last_used_us
    conn.execute(
        update(api_token)
        .where(api_token.c.prefix == prefix, (last.is_(None)) | (last < older_than_us))
        .values(last_used_us=at_us)
    )


# --- sign-in failures ------------------------------------------------------------------------------------------


def failures_since(conn: Connection, subject: str, since_us: int) -> tuple[int, int | None]:
    """How many failures were recorded against the subject after since_us, and when the last one was."""
    stmt = select(func.count(), func.max(login_failure.c.at_us)).where(
        login_failure.c.subject == subject, login_failure.c.at_us > since_us
    )
    count, last = conn.execute(stmt).one()
    return int(count), (int(last) if last is not None else None)


def insert_failures(conn: Connection, subjects: tuple[str, ...], at_us: int) -> None:
    """Record one failure against each subject; drop failures older than a day."""
    for i, subject in enumerate(subjects):  # +i: (subject, at_us) is unique
        conn.execute(insert(login_failure).values(subject=subject, at_us=at_us + i))
    conn.execute(delete(login_failure).where(login_failure.c.at_us < at_us - 86_400_000_000))


# --- credentials generation ------------------------------------------------------------------------------------


def credentials_generation(conn: Connection) -> int:
    """The node's credentials generation: it moves on with every change that may take access away."""
    found = conn.execute(select(node_setting.c.value).where(node_setting.c.key == GENERATION_KEY)).scalar()
    return int(found) if found is not None else 0


def bump_generation(conn: Connection) -> None:
    """Move the generation on, in the caller's transaction: every process re-verifies from its commit on."""
    value = node_setting.c.value
    bumped = conn.execute(
        update(node_setting)
        .where(node_setting.c.key == GENERATION_KEY)
        .values(value=cast(cast(value, BigInteger) + 1, String))
    )
    if bumped.rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(insert(node_setting).values(key=GENERATION_KEY, value="1"))
        except IntegrityError:  # another writer made it first
            bump_generation(conn)


# --- collections and grants ------------------------------------------------------------------------------------


def get_collection_by_alias(conn: Connection, alias: str) -> Any | None:
    """The collection with this alias (or TAXII id), or None."""
    return conn.execute(select(collection).where((collection.c.alias == alias) | (collection.c.uuid == alias))).first()


def alias_taken(conn: Connection, alias: str) -> bool:
    """Whether a collection has this alias."""
    return conn.execute(select(collection.c.id).where(collection.c.alias == alias)).first() is not None


def insert_collection(conn: Connection, row: dict[str, Any]) -> int:
    """Store a new collection row; its id."""
    return int(conn.execute(insert(collection).values(row)).inserted_primary_key[0])  # type: ignore[index]


def get_collection(conn: Connection, collection_id: int) -> Any:
    """The collection row with this id (it exists)."""
    return conn.execute(select(collection).where(collection.c.id == collection_id)).one()


def list_collections(conn: Connection) -> list[Any]:
    """All collections, oldest first."""
    return list(conn.execute(select(collection).order_by(collection.c.id)))


def insert_grants(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store grant rows (collection_id, mode, org_id, group_id)."""
    if rows:
        conn.execute(insert(collection_grant), rows)


def _grant_match(collection_id: int, mode: str, grantee: dict[str, int | None]) -> list[Any]:
    g = collection_grant.c
    match = [g.collection_id == collection_id, g.mode == mode]
    return match + ([g.org_id == grantee["org_id"]] if grantee["org_id"] else [g.group_id == grantee["group_id"]])


def has_grant(conn: Connection, collection_id: int, mode: str, grantee: dict[str, int | None]) -> bool:
    """Whether the organisation or group (grantee: org_id or group_id) holds this grant on the collection."""
    stmt = select(collection_grant.c.id).where(*_grant_match(collection_id, mode, grantee))
    return conn.execute(stmt).first() is not None


def delete_grant(conn: Connection, collection_id: int, mode: str, grantee: dict[str, int | None]) -> None:
    """Take a grant away."""
    conn.execute(collection_grant.delete().where(*_grant_match(collection_id, mode, grantee)))


def grant_rows(conn: Connection, collection_id: int) -> list[Any]:
    """(mode, org name, group name) of each grant of a collection."""
    g = collection_grant.c
    stmt = (
        select(g.mode, org.c.name.label("org"), sharing_group.c.name.label("grp"))
        .select_from(collection_grant)
        .join(org, org.c.id == g.org_id, isouter=True)
        .join(sharing_group, sharing_group.c.id == g.group_id, isouter=True)
        .where(g.collection_id == collection_id)
    )
    return list(conn.execute(stmt))
