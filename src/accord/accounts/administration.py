"""Administration: organisations, users, tokens, sharing groups, collections and their grants."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import Connection

from accord.accounts import repository as repo
from accord.accounts import security
from accord.accounts.authentication import forget_credentials
from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.errors import BadRequest, Conflict, Forbidden, NotFound
from accord.core.names import NAME_KEY_MAX, name_key
from accord.models.accounts import org, sharing_group
from accord.sharing.policy import Principal, Role
from accord.stix.timestamps import micros_to_timestamp
from accord.store.service import WriteContext, ingest

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ALIAS_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
DAY_US = 86_400_000_000
MAX_EXPIRES_DAYS = 36_500  # a century: beyond it, an expiry is no expiry


# --- organisations -------------------------------------------------------------------------------------------


def get_org_by_name_or_raise(conn: Connection, name: str) -> Any:
    """The organisation row with this name, or NotFound."""
    row = repo.get_org_by_name(conn, name)
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
        ("organisation", repo.get_org_by_name(conn, name)),
        ("sharing group", repo.get_group_by_name(conn, name)),
    ):
        if found is None:
            continue
        if other == kind:
            spelled = "" if found.name == name else f" (as {found.name!r})"
            raise Conflict(f"{kind} {name!r} already exists{spelled}")
        raise Conflict(f"{kind} {name!r}: there is a {other} named {found.name!r}, and grants name both alike")
    return name, key


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
    org_id = repo.insert_named(conn, org, row, f"organisation {name!r} already exists")
    created = repo.get_org(conn, org_id)
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


def available_org_name(conn: Connection, wanted: str, qualifier: str) -> str:
    """`wanted` if no organisation has that name, else it with `qualifier` (and a number) in brackets."""
    wanted = " ".join(wanted.split())[:150] or qualifier
    name = wanted
    for n in range(1, 1000):
        if repo.get_org_by_name(conn, name) is None and repo.get_group_by_name(conn, name) is None:
            return name
        name = f"{wanted} ({qualifier})" if n == 1 else f"{wanted} ({qualifier} {n})"
    raise Conflict(f"no free organisation name for {wanted!r}")


# --- users ---------------------------------------------------------------------------------------------------


def get_user_by_email_or_raise(conn: Connection, email: str) -> Any:
    """The user row with this e-mail, or NotFound."""
    row = repo.get_user_by_email(conn, email)
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
    if repo.is_feed_source(conn, owner.id):
        raise BadRequest(
            f"organisation {owner.name!r} is the record of a feed's source; it has no users "
            "(they would read everything its feeds bring, at every TLP)"
        )
    if repo.get_user_by_email(conn, email) is not None:
        raise Conflict(f"user {email!r} already exists")
    repo.insert_user(
        conn,
        {
            "email": email,
            "org_id": owner.id,
            "role": role,
            "password_hash": security.hash_password(password) if password else None,
            "disabled": False,
            "created_us": now_us(),
        },
    )
    record(conn, actor, "user.create", email, org=owner.name, role=role)
    return get_user_by_email_or_raise(conn, email)


def set_user_disabled(conn: Connection, email: str, disabled: bool, *, actor: str = "cli") -> None:
    """Disable a user (its passwords and tokens stop working) or enable it again."""
    user = get_user_by_email_or_raise(conn, email)
    repo.set_user_disabled(conn, user.id, disabled)
    forget_credentials(conn)
    record(conn, actor, "user.disable" if disabled else "user.enable", user.email)


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
    repo.insert_token(
        conn,
        {
            "user_id": user.id,
            "prefix": prefix,
            "token_hash": digest,
            "read_only": read_only,
            "expires_us": now + expires_days * DAY_US if expires_days else None,
            "revoked_us": None,
            "created_us": now,
        },
    )
    record(conn, actor, "token.create", user.email, prefix=prefix, read_only=read_only, expires_days=expires_days)
    return token


def revoke_token(conn: Connection, prefix: str, *, actor: str = "cli") -> None:
    """Revoke the token with this prefix: the token itself, its prefix as listed (`acc_1c78d35c`) or the hex part."""
    prefix = prefix.strip()
    prefix = security.token_prefix(prefix) or prefix.removeprefix(security.TOKEN_PREFIX)
    if not repo.revoke_token(conn, prefix, now_us()):
        raise NotFound(f"no active token with prefix {prefix!r}")
    forget_credentials(conn)
    record(conn, actor, "token.revoke", prefix)


def list_tokens(conn: Connection, email: str | None = None) -> list[Any]:
    """All tokens, or one user's (never their secrets)."""
    user_id = get_user_by_email_or_raise(conn, email).id if email is not None else None
    return repo.list_tokens(conn, user_id)


# --- sharing groups and collections --------------------------------------------------------------------------


def create_group(conn: Connection, name: str, org_names: list[str], *, actor: str = "cli") -> int:
    """A sharing group of the named organisations."""
    name, key = _new_name(conn, "sharing group", name)
    members = {get_org_by_name_or_raise(conn, n).id for n in org_names}
    row = {"name": name, "name_key": key, "description": "", "created_us": now_us()}
    gid = repo.insert_named(conn, sharing_group, row, f"sharing group {name!r} already exists")
    if members:
        repo.insert_group_members(conn, gid, sorted(members))
        forget_credentials(conn)
    record(conn, actor, "group.create", name, orgs=sorted(org_names))
    return int(gid)


def list_groups(conn: Connection) -> list[tuple[str, list[str]]]:
    """Each sharing group with its members' names."""
    groups: dict[str, list[str]] = {}
    for row in repo.group_rows(conn):
        groups.setdefault(row.name, [])
        if row.org:
            groups[row.name].append(row.org)
    return list(groups.items())


def _grantee(conn: Connection, who: str) -> dict[str, int | None]:
    found = repo.get_org_by_name(conn, who)
    if found is not None:
        return {"org_id": found.id, "group_id": None}
    group = repo.get_group_by_name(conn, who)
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
    if repo.alias_taken(conn, alias):
        raise Conflict(f"collection alias {alias!r} already exists")
    grants = [{"mode": "read", **_grantee(conn, w)} for w in readers]
    grants += [{"mode": "write", **_grantee(conn, w)} for w in writers]
    cid = repo.insert_collection(
        conn,
        {
            "uuid": str(uuid.uuid4()),
            "alias": alias,
            "title": title.strip(),
            "description": description,
            "created_us": now_us(),
        },
    )
    unique = {(g["mode"], g["org_id"], g["group_id"]) for g in grants}
    if unique:
        repo.insert_grants(
            conn,
            [{"collection_id": cid, "mode": m, "org_id": o, "group_id": g} for m, o, g in sorted(unique, key=str)],
        )
        forget_credentials(conn)
    record(conn, actor, "collection.create", alias, readers=readers, writers=writers)
    return repo.get_collection(conn, cid)


def change_grants(
    conn: Connection, alias: str, *, readers: list[str], writers: list[str], grant: bool, actor: str = "cli"
) -> int:
    """Give (grant) or take away read and write grants of a collection; how many changed. Effective at once in
    every process of the node (the credentials generation)."""
    coll = get_collection_by_alias_or_raise(conn, alias)
    wanted = [("read", w) for w in readers] + [("write", w) for w in writers]
    if not wanted:
        raise BadRequest("name at least one --read or --write organisation or sharing group")
    changed = 0
    for mode, who in wanted:
        grantee = _grantee(conn, who)
        exists = repo.has_grant(conn, coll.id, mode, grantee)
        if grant and not exists:
            repo.insert_grants(conn, [{"collection_id": coll.id, "mode": mode, **grantee}])
            changed += 1
        elif not grant and exists:
            repo.delete_grant(conn, coll.id, mode, grantee)
            changed += 1
    if changed:
        forget_credentials(conn)
    verb = "collection.grant" if grant else "collection.revoke"
    record(conn, actor, verb, alias, readers=readers, writers=writers, changed=changed)
    return changed


def change_members(conn: Connection, group: str, org_names: list[str], *, add: bool, actor: str = "cli") -> int:
    """Add organisations to a sharing group, or remove them; how many changed."""
    row = repo.get_group_by_name(conn, group)
    if row is None:
        raise NotFound(f"no sharing group named {group!r}")
    if not org_names:
        raise BadRequest("name at least one --org")
    changed = 0
    for name in org_names:
        org_id = get_org_by_name_or_raise(conn, name).id
        exists = repo.is_group_member(conn, row.id, org_id)
        if add and not exists:
            repo.insert_group_members(conn, row.id, [org_id])
            changed += 1
        elif not add and exists:
            repo.delete_group_member(conn, row.id, org_id)
            changed += 1
    if changed:
        forget_credentials(conn)
    record(conn, actor, "group.add" if add else "group.remove", row.name, orgs=sorted(org_names), changed=changed)
    return changed


def get_collection_by_alias_or_raise(conn: Connection, alias: str) -> Any:
    """The collection with this alias (or TAXII id), or NotFound."""
    row = repo.get_collection_by_alias(conn, alias)
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


def collection_grants(conn: Connection, collection_id: int) -> dict[str, list[str]]:
    """Names of the readers and writers of a collection."""
    out: dict[str, list[str]] = {"read": [], "write": []}
    for row in repo.grant_rows(conn, collection_id):
        out[row.mode].append(row.org or f"group:{row.grp}")
    return out
