"""Organisations, users, tokens, sharing groups and collections: administration and authentication."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import BigInteger, Connection, String, Table, cast, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from accord.accounts import security
from accord.accounts.credentials import Credentials, credential_cache
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Conflict, Forbidden, NotFound, TooManyRequests
from accord.core.names import NAME_KEY_MAX, name_key
from accord.core.settings import get_settings
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
from accord.sharing.policy import Principal, Role
from accord.sharing.repository import principal_for
from accord.stix.timestamps import micros_to_timestamp
from accord.store.service import WriteContext, ingest

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ALIAS_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
DAY_US = 86_400_000_000
MAX_EXPIRES_DAYS = 36_500  # a century: beyond it, an expiry is no expiry


# --- organisations -------------------------------------------------------------------------------------------


def get_org_by_name(conn: Connection, name: str) -> Any | None:
    """The organisation row with this name (compared by name_key: case, width and spacing aside), or None."""
    return conn.execute(select(org).where(org.c.name_key == name_key(name))).first()


def get_org_by_name_or_raise(conn: Connection, name: str) -> Any:
    """The organisation row with this name, or NotFound."""
    row = get_org_by_name(conn, name)
    if row is None:
        raise NotFound(f"no organisation named {name!r}")
    return row


def _new_name(conn: Connection, kind: str, name: str) -> tuple[str, str]:
    """A new organisation's or group's name (stripped) and its key; BadRequest or Conflict if it cannot be one."""
    name = name.strip()
    key = name_key(name)
    if not key or len(name) > 200 or len(key) > NAME_KEY_MAX:
        raise BadRequest(f"{kind} name must be 1-200 characters")
    # Grants and group members name organisations and groups alike: one name must never mean two of them.
    for other, found in (
        ("organisation", get_org_by_name(conn, name)),
        ("sharing group", get_group_by_name(conn, name)),
    ):
        if found is None:
            continue
        if other == kind:
            spelled = "" if found.name == name else f" (as {found.name!r})"
            raise Conflict(f"{kind} {name!r} already exists{spelled}")
        raise Conflict(f"{kind} {name!r}: there is a {other} named {found.name!r}, and grants name both alike")
    return name, key


def _insert_named(conn: Connection, table: Table, row: dict[str, Any], conflict: str) -> int:
    """Insert an organisation or group row; Conflict if a concurrent transaction took its name first."""
    try:
        with conn.begin_nested():  # a savepoint: the unique-index error must not end the caller's transaction
            return int(conn.execute(insert(table).values(row)).inserted_primary_key[0])  # type: ignore[index]
    except IntegrityError:
        raise Conflict(conflict) from None


def create_org(
    conn: Connection,
    name: str,
    *,
    actor: str = "cli",
    is_host: bool = False,
    is_remote: bool = False,
    stix_id: str | None = None,
) -> Any:
    """A new organisation with its STIX identity object (R6: readable by every authenticated user)."""
    # A remote organisation is a record of one elsewhere (a feed's source): it owns what arrives from there, and
    # it is no member of the community (R6 does not cover it).
    name, key = _new_name(conn, "organisation", name)
    row = {
        "name": name,
        "name_key": key,
        "stix_id": stix_id or f"identity--{uuid.uuid4()}",
        "is_host": is_host,
        "is_remote": is_remote,
        "created_us": now_us(),
    }
    org_id = _insert_named(conn, org, row, f"organisation {name!r} already exists")
    created = get_org(conn, org_id)
    if not is_remote:  # a remote record's identity arrives over the link that brings its content
        ensure_identity(conn, created)
    record(conn, actor, "org.create", name, **({"remote": True} if is_remote else {}))
    return created


def ensure_identity(conn: Connection, row: Any) -> None:
    """Store an organisation's identity object (an identical one already stored is a no-op)."""
    ingest(conn, [identity_object(row)], WriteContext(writer_org_id=row.id))


def identity_object(row: Any) -> dict[str, Any]:
    """The STIX identity object of an organisation row."""
    ts = micros_to_timestamp(row.created_us)
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": row.stix_id,
        "created": ts,
        "modified": ts,
        "name": row.name,
        "identity_class": "organization",
        "created_by_ref": row.stix_id,
    }


def get_org(conn: Connection, org_id: int) -> Any:
    """The organisation row with this id (it exists)."""
    return conn.execute(select(org).where(org.c.id == org_id)).one()


def get_org_by_identity(conn: Connection, stix_id: str) -> Any | None:
    """The organisation row whose identity object has this id, or None."""
    return conn.execute(select(org).where(org.c.stix_id == stix_id)).first()


def available_org_name(conn: Connection, wanted: str, qualifier: str) -> str:
    """`wanted` if no organisation has that name, else it with `qualifier` (and a number) in brackets."""
    wanted = " ".join(wanted.split())[:150] or qualifier
    name = wanted
    for n in range(1, 1000):
        if get_org_by_name(conn, name) is None and get_group_by_name(conn, name) is None:
            return name
        name = f"{wanted} ({qualifier})" if n == 1 else f"{wanted} ({qualifier} {n})"
    raise Conflict(f"no free organisation name for {wanted!r}")


def list_orgs(conn: Connection, *, remote: bool = True) -> list[Any]:
    """The organisations by name; without `remote`, only the node's own (no remote records)."""
    stmt = select(org).order_by(org.c.name)
    return list(conn.execute(stmt if remote else stmt.where(org.c.is_remote.is_(False))))


def host_org(conn: Connection) -> Any | None:
    """The node's host organisation (created by `accord init`)."""
    return conn.execute(select(org).where(org.c.is_host.is_(True))).first()


# --- users ---------------------------------------------------------------------------------------------------


def get_user_by_email(conn: Connection, email: str) -> Any | None:
    """The user row with this e-mail (case-insensitive), or None."""
    return conn.execute(select(app_user).where(app_user.c.email == email.strip().lower())).first()


def get_user_by_email_or_raise(conn: Connection, email: str) -> Any:
    """The user row with this e-mail, or NotFound."""
    row = get_user_by_email(conn, email)
    if row is None:
        raise NotFound(f"no user with e-mail {email!r}")
    return row


def create_user(
    conn: Connection, email: str, org_name: str, role: str, password: str | None, *, actor: str = "cli"
) -> Any:
    """A new user of an organisation with a role (and an argon2-hashed password, if given)."""
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL_RE.match(email):  # 320: the longest address RFC 5321 allows
        raise BadRequest(f"{email[:80]!r} is not an e-mail address (at most 320 characters)")
    try:
        role = Role(role).value
    except ValueError:
        raise BadRequest(f"role must be one of {', '.join(r.value for r in Role)}") from None
    if password is not None and len(password) < 8:
        raise BadRequest("password must be at least 8 characters")
    owner = get_org_by_name_or_raise(conn, org_name)
    if _is_feed_source(conn, owner.id):
        raise BadRequest(
            f"organisation {owner.name!r} is the record of a feed's source; it has no users "
            "(they would read everything its feeds bring, at every TLP)"
        )
    if get_user_by_email(conn, email) is not None:
        raise Conflict(f"user {email!r} already exists")
    conn.execute(
        insert(app_user).values(
            email=email,
            org_id=owner.id,
            role=role,
            password_hash=security.hash_password(password) if password else None,
            disabled=False,
            created_us=now_us(),
        )
    )
    record(conn, actor, "user.create", email, org=owner.name, role=role)
    return get_user_by_email_or_raise(conn, email)


def set_user_disabled(conn: Connection, email: str, disabled: bool, *, actor: str = "cli") -> None:
    """Disable a user (its passwords and tokens stop working) or enable it again."""
    user = get_user_by_email_or_raise(conn, email)
    conn.execute(update(app_user).where(app_user.c.id == user.id).values(disabled=disabled))
    forget_credentials(conn)
    record(conn, actor, "user.disable" if disabled else "user.enable", user.email)


def _is_feed_source(conn: Connection, org_id: int) -> bool:
    """Whether a feed's link speaks for this organisation (accord.feeds: it owns what the feed brings)."""
    stmt = (
        select(peer_org.c.org_id)
        .join(peer, peer.c.id == peer_org.c.peer_id)
        .where(peer_org.c.org_id == org_id, peer.c.kind == "feed")
        .limit(1)
    )
    return conn.execute(stmt).first() is not None


def list_users(conn: Connection) -> list[Any]:
    """All users with their organisation's name."""
    stmt = (
        select(app_user.c.id, app_user.c.email, app_user.c.role, app_user.c.disabled, org.c.name.label("org"))
        .join(org, org.c.id == app_user.c.org_id)
        .order_by(app_user.c.email)
    )
    return list(conn.execute(stmt))


# --- tokens --------------------------------------------------------------------------------------------------


def create_token(
    conn: Connection,
    email: str,
    *,
    read_only: bool = False,
    expires_days: int | None = None,
    actor: str = "cli",
) -> str:
    """A new API token for the user; returned once, stored only as a hash."""
    user = get_user_by_email_or_raise(conn, email)
    if expires_days is not None and not 0 < expires_days <= MAX_EXPIRES_DAYS:
        raise BadRequest(f"expires_days must be a whole number of days from 1 to {MAX_EXPIRES_DAYS:,}")
    token, prefix, digest = security.new_token()
    now = now_us()
    conn.execute(
        insert(api_token).values(
            user_id=user.id,
            prefix=prefix,
            token_hash=digest,
            read_only=read_only,
            expires_us=now + expires_days * DAY_US if expires_days else None,
            revoked_us=None,
            created_us=now,
        )
    )
    record(conn, actor, "token.create", user.email, prefix=prefix, read_only=read_only, expires_days=expires_days)
    return token


def revoke_token(conn: Connection, prefix: str, *, actor: str = "cli") -> None:
    """Revoke the token with this prefix: the token itself, its prefix as listed (`acc_1c78d35c`) or the hex part."""
    prefix = prefix.strip()
    prefix = security.token_prefix(prefix) or prefix.removeprefix(security.TOKEN_PREFIX)
    result = conn.execute(
        update(api_token)
        .where(api_token.c.prefix == prefix, api_token.c.revoked_us.is_(None))
        .values(revoked_us=now_us())
    )
    if result.rowcount == 0:
        raise NotFound(f"no active token with prefix {prefix!r}")
    forget_credentials(conn)
    record(conn, actor, "token.revoke", prefix)


def list_tokens(conn: Connection, email: str | None = None) -> list[Any]:
    """All tokens, or one user's (never their secrets)."""
    stmt = (
        select(
            api_token.c.prefix,
            app_user.c.email,
            api_token.c.read_only,
            api_token.c.expires_us,
            api_token.c.revoked_us,
            api_token.c.created_us,
        )
        .join(app_user, app_user.c.id == api_token.c.user_id)
        .order_by(api_token.c.created_us)
    )
    if email is not None:
        stmt = stmt.where(app_user.c.id == get_user_by_email_or_raise(conn, email).id)
    return list(conn.execute(stmt))


# --- authentication ------------------------------------------------------------------------------------------


def _throttle_check(conn: Connection, subjects: list[str]) -> None:
    s = get_settings()
    since = now_us() - s.login_window_seconds * 1_000_000
    for subject in subjects:
        count = conn.execute(
            select(func.count())
            .select_from(login_failure)
            .where(login_failure.c.subject == subject, login_failure.c.at_us > since)
        ).scalar_one()
        if count >= s.login_max_failures:
            raise TooManyRequests("too many failed logins; try again later")


def record_login_failure(conn: Connection, creds: Credentials) -> None:
    """Count a failed login against the account and the client address (own write transaction)."""
    now = now_us()
    subjects = creds.subjects()
    for i, subject in enumerate(subjects):
        conn.execute(insert(login_failure).values(subject=subject, at_us=now + i))
    conn.execute(delete(login_failure).where(login_failure.c.at_us < now - DAY_US))
    # A throttled account or address must be re-checked, not served from memory (only those entries).
    credential_cache.forget_subjects(subjects)
    record(conn, creds.email or creds.client or "anonymous", "login.failure", client=creds.client)


def _user_principal(conn: Connection, user: Any, *, read_only: bool) -> Principal:
    return principal_for(
        conn, org_id=user.org_id, role=user.role, user_id=user.id, email=user.email, read_only=read_only
    )


def _check_token(conn: Connection, token: str, email: str | None) -> tuple[Principal | None, int | None]:
    prefix = security.token_prefix(token)
    row = None
    if prefix is not None:
        row = conn.execute(
            select(api_token, app_user.c.email, app_user.c.org_id, app_user.c.role, app_user.c.disabled)
            .join(app_user, app_user.c.id == api_token.c.user_id)
            .where(api_token.c.prefix == prefix)
        ).first()
    stored = row.token_hash if row is not None else security.token_digest("absent")
    if not security.digests_equal(stored, security.token_digest(token)) or row is None:
        return None, None
    if row.revoked_us is not None or row.disabled or (row.expires_us is not None and row.expires_us <= now_us()):
        return None, None
    if email is not None and email.strip().lower() != row.email:
        return None, None
    principal = principal_for(
        conn, org_id=row.org_id, role=row.role, user_id=row.user_id, email=row.email, read_only=row.read_only
    )
    return principal, row.expires_us


def _verify(conn: Connection, creds: Credentials) -> tuple[Principal | None, int | None]:
    """The principal for these credentials and the token's expiry (µs), checked against the database."""
    _throttle_check(conn, list(creds.subjects()))
    if creds.token:
        return _check_token(conn, creds.token, None)
    if creds.email is None or creds.secret is None:
        return None, None
    if security.token_prefix(creds.secret) is not None:
        return _check_token(conn, creds.secret, creds.email)
    user = get_user_by_email(conn, creds.email)
    if not security.verify_password(user.password_hash if user is not None else None, creds.secret):
        return None, None
    if user is None or user.disabled:
        return None, None
    return _user_principal(conn, user, read_only=False), None


GENERATION_KEY = "credentials_generation"


def credentials_generation(conn: Connection) -> int:
    """The node's credentials generation: it moves on with every change that may take access away."""
    found = conn.execute(select(node_setting.c.value).where(node_setting.c.key == GENERATION_KEY)).scalar()
    return int(found) if found is not None else 0


def _bump_generation(conn: Connection) -> None:
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
            _bump_generation(conn)


def authenticate(conn: Connection, creds: Credentials) -> Principal | None:
    """The principal for these credentials, or None (the same for unknown and wrong ones).

    Raises TooManyRequests while the account or address is throttled. The caller records a failure with
    record_login_failure in a transaction of its own, so that reads never take the write lock. A success is
    remembered for at most CREDENTIAL_CACHE_SECONDS (see recall_principal).
    """
    generation = credentials_generation(conn)  # first: what is verified below is at least this recent
    principal, expires_us = _verify(conn, creds)
    if principal is not None:
        credential_cache.remember(creds, principal, expires_us, generation)
    return principal


def recall_principal(conn: Connection, creds: Credentials) -> Principal | None:
    """The principal of credentials verified under the node's current credentials generation (and less than
    CREDENTIAL_CACHE_SECONDS ago): one small read instead of the verification's queries."""
    return credential_cache.recall(creds, credentials_generation(conn))


def forget_credentials(conn: Connection) -> None:
    """Every process of the node verifies credentials again once the caller's transaction commits: call with
    every change that may take access away or give it (revocations, roles, grants, memberships, links)."""
    _bump_generation(conn)
    credential_cache.clear()


def principal_for_email(conn: Connection, email: str) -> Principal:
    """The principal of a user by e-mail (CLI `--as EMAIL`)."""
    user = get_user_by_email_or_raise(conn, email)
    return _user_principal(conn, user, read_only=False)


# --- sharing groups and collections --------------------------------------------------------------------------


def get_group_by_name(conn: Connection, name: str) -> Any | None:
    """The sharing group with this name (compared by name_key, like organisations), or None."""
    return conn.execute(select(sharing_group).where(sharing_group.c.name_key == name_key(name))).first()


def create_group(conn: Connection, name: str, org_names: list[str], *, actor: str = "cli") -> int:
    """A sharing group of the named organisations."""
    name, key = _new_name(conn, "sharing group", name)
    members = {get_org_by_name_or_raise(conn, n).id for n in org_names}
    row = {"name": name, "name_key": key, "description": "", "created_us": now_us()}
    gid = _insert_named(conn, sharing_group, row, f"sharing group {name!r} already exists")
    if members:
        conn.execute(insert(sharing_group_member), [{"group_id": gid, "org_id": m} for m in sorted(members)])
        forget_credentials(conn)
    record(conn, actor, "group.create", name, orgs=sorted(org_names))
    return int(gid)


def list_groups(conn: Connection) -> list[tuple[str, list[str]]]:
    """Each sharing group with its members' names."""
    stmt = (
        select(sharing_group.c.name, org.c.name.label("org"))
        .join(sharing_group_member, sharing_group_member.c.group_id == sharing_group.c.id, isouter=True)
        .join(org, org.c.id == sharing_group_member.c.org_id, isouter=True)
        .order_by(sharing_group.c.name, org.c.name)
    )
    groups: dict[str, list[str]] = {}
    for row in conn.execute(stmt):
        groups.setdefault(row.name, [])
        if row.org:
            groups[row.name].append(row.org)
    return list(groups.items())


def _grantee(conn: Connection, who: str) -> dict[str, int | None]:
    found = get_org_by_name(conn, who)
    if found is not None:
        return {"org_id": found.id, "group_id": None}
    group = get_group_by_name(conn, who)
    if group is None:
        raise NotFound(f"no organisation or sharing group named {who!r}")
    return {"org_id": None, "group_id": group.id}


def create_collection(
    conn: Connection,
    title: str,
    alias: str,
    *,
    readers: list[str],
    writers: list[str],
    description: str = "",
    actor: str = "cli",
) -> Any:
    """A collection with its reader and writer organisations and/or groups."""
    if not ALIAS_RE.match(alias):
        raise BadRequest("alias must be 1-100 characters of a-z, 0-9, '.', '_' or '-', starting alphanumeric")
    if not title.strip():
        raise BadRequest("collection title must not be empty")
    if conn.execute(select(collection.c.id).where(collection.c.alias == alias)).first():
        raise Conflict(f"collection alias {alias!r} already exists")
    grants = [{"mode": "read", **_grantee(conn, w)} for w in readers]
    grants += [{"mode": "write", **_grantee(conn, w)} for w in writers]
    cid = conn.execute(
        insert(collection).values(
            uuid=str(uuid.uuid4()),
            alias=alias,
            title=title.strip(),
            description=description,
            created_us=now_us(),
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    unique = {(g["mode"], g["org_id"], g["group_id"]) for g in grants}
    if unique:
        conn.execute(
            insert(collection_grant),
            [{"collection_id": cid, "mode": m, "org_id": o, "group_id": g} for m, o, g in sorted(unique, key=str)],
        )
        forget_credentials(conn)
    record(conn, actor, "collection.create", alias, readers=readers, writers=writers)
    return conn.execute(select(collection).where(collection.c.id == cid)).one()


def change_grants(
    conn: Connection, alias: str, *, readers: list[str], writers: list[str], grant: bool, actor: str = "cli"
) -> int:
    """Give (grant) or take away read and write grants of a collection; how many changed. Effective at once in
    this process; other processes of the node see it within the credential cache's bound."""
    coll = get_collection_by_alias_or_raise(conn, alias)
    wanted = [("read", w) for w in readers] + [("write", w) for w in writers]
    if not wanted:
        raise BadRequest("name at least one --read or --write organisation or sharing group")
    g = collection_grant.c
    changed = 0
    for mode, who in wanted:
        grantee = _grantee(conn, who)
        match = [g.collection_id == coll.id, g.mode == mode]
        match += [g.org_id == grantee["org_id"]] if grantee["org_id"] else [g.group_id == grantee["group_id"]]
        exists = conn.execute(select(g.id).where(*match)).first() is not None
        if grant and not exists:
            conn.execute(insert(collection_grant).values(collection_id=coll.id, mode=mode, **grantee))
            changed += 1
        elif not grant and exists:
            conn.execute(collection_grant.delete().where(*match))
            changed += 1
    if changed:
        forget_credentials(conn)
    verb = "collection.grant" if grant else "collection.revoke"
    record(conn, actor, verb, alias, readers=readers, writers=writers, changed=changed)
    return changed


def change_members(conn: Connection, group: str, org_names: list[str], *, add: bool, actor: str = "cli") -> int:
    """Add organisations to a sharing group, or remove them; how many changed."""
    row = get_group_by_name(conn, group)
    if row is None:
        raise NotFound(f"no sharing group named {group!r}")
    if not org_names:
        raise BadRequest("name at least one --org")
    m = sharing_group_member.c
    changed = 0
    for name in org_names:
        org_id = get_org_by_name_or_raise(conn, name).id
        exists = conn.execute(select(m.org_id).where(m.group_id == row.id, m.org_id == org_id)).first() is not None
        if add and not exists:
            conn.execute(insert(sharing_group_member).values(group_id=row.id, org_id=org_id))
            changed += 1
        elif not add and exists:
            conn.execute(sharing_group_member.delete().where(m.group_id == row.id, m.org_id == org_id))
            changed += 1
    if changed:
        forget_credentials(conn)
    record(conn, actor, "group.add" if add else "group.remove", row.name, orgs=sorted(org_names), changed=changed)
    return changed


def get_collection_by_alias_or_raise(conn: Connection, alias: str) -> Any:
    """The collection with this alias (or TAXII id), or NotFound."""
    row = conn.execute(select(collection).where((collection.c.alias == alias) | (collection.c.uuid == alias))).first()
    if row is None:
        raise NotFound(f"no collection {alias!r}")
    return row


def get_writable_collection_or_raise(conn: Connection, principal: Principal, alias: str) -> Any:
    """The collection the caller writes into: NotFound if it may neither read nor write it, Forbidden if only read."""
    row = get_collection_by_alias_or_raise(conn, alias)
    if principal.is_admin or row.id in principal.writable_collections:
        return row
    if row.id in principal.readable_collections:
        raise Forbidden(f"you may not write into collection {alias!r}")
    # R7: a collection the caller may not see answers exactly as one that does not exist.
    raise NotFound(f"no collection {alias!r}")


def list_collections(conn: Connection) -> list[Any]:
    """All collections by alias."""
    return list(conn.execute(select(collection).order_by(collection.c.id)))


def collection_grants(conn: Connection, collection_id: int) -> dict[str, list[str]]:
    """Names of the readers and writers of a collection."""
    g = collection_grant.c
    stmt = (
        select(g.mode, org.c.name.label("org"), sharing_group.c.name.label("grp"))
        .select_from(collection_grant)
        .join(org, org.c.id == g.org_id, isouter=True)
        .join(sharing_group, sharing_group.c.id == g.group_id, isouter=True)
        .where(g.collection_id == collection_id)
    )
    out: dict[str, list[str]] = {"read": [], "write": []}
    for row in conn.execute(stmt):
        out[row.mode].append(row.org or f"group:{row.grp}")
    return out
