"""REST API under /api/v1/: administration (admins), objects (through the sharing policy), audit."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import Connection

from accord.accounts import service as accounts
from accord.api import schemas
from accord.api.deps import WRITE_CONN, admin_principal, admin_writer, current_principal, read_conn
from accord.audit.service import list_entries
from accord.core.errors import NotFound
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.store import queries

router = APIRouter(prefix="/api/v1")


@router.get("/me", response_model=schemas.Me, tags=["auth"])
def me(principal: Principal = Depends(current_principal)) -> schemas.Me:
    """Who the caller is."""
    return schemas.Me(
        email=principal.email,
        org_id=principal.org_id,
        role=principal.role.value,
        read_only=principal.read_only,
    )


@router.get("/orgs", response_model=list[schemas.OrgRead], tags=["admin"])
def list_orgs(principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)) -> Any:
    """Organisations of the community (names and identities are readable by everyone, R6); admins also see the
    remote records (a feed's source), which tell whose feeds bring what."""
    rows = accounts.list_orgs(conn, remote=principal.is_admin)
    return [schemas.OrgRead(name=r.name, identity=r.stix_id, host=r.is_host, remote=r.is_remote) for r in rows]


@router.post("/orgs", response_model=schemas.OrgRead, status_code=201, tags=["admin"])
def create_org(body: schemas.OrgCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Create an organisation."""
    row = accounts.create_org(conn, body.name, actor=p.email)
    return schemas.OrgRead(name=row.name, identity=row.stix_id, host=row.is_host, remote=row.is_remote)


@router.get("/users", response_model=list[schemas.UserRead], tags=["admin"])
def list_users(_: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """All users."""
    return [schemas.UserRead(email=r.email, org=r.org, role=r.role) for r in accounts.list_users(conn)]


@router.post("/users", response_model=schemas.UserRead, status_code=201, tags=["admin"])
def create_user(body: schemas.UserCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Create a user."""
    row = accounts.create_user(conn, body.email, body.org, body.role, body.password, actor=p.email)
    org = accounts.get_org_by_name_or_raise(conn, body.org)  # its name as stored, however the request spelled it
    return schemas.UserRead(email=row.email, org=org.name, role=row.role)


@router.get("/tokens", response_model=list[schemas.TokenRead], tags=["admin"])
def list_tokens(_: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """All tokens (prefixes only, never secrets)."""
    return [
        schemas.TokenRead(
            prefix=r.prefix,
            email=r.email,
            read_only=r.read_only,
            expires_us=r.expires_us,
            revoked=r.revoked_us is not None,
            created_us=r.created_us,
            last_used_us=r.last_used_us,
        )
        for r in accounts.list_tokens(conn)
    ]


@router.post("/tokens", response_model=schemas.TokenCreated, status_code=201, tags=["admin"])
def create_token(body: schemas.TokenCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Create a token for a user; the token is in this response only."""
    token = accounts.create_token(
        conn, body.email, read_only=body.read_only, expires_days=body.expires_days, actor=p.email
    )
    return schemas.TokenCreated(token=token)


@router.delete("/tokens/{prefix}", status_code=204, tags=["admin"])
def revoke_token(prefix: str, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Response:
    """Revoke a token."""
    accounts.revoke_token(conn, prefix, actor=p.email)
    return Response(status_code=204)


@router.get("/groups", response_model=list[schemas.GroupRead], tags=["admin"])
def list_groups(_: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """Sharing groups with their members."""
    return [schemas.GroupRead(name=n, orgs=o) for n, o in accounts.list_groups(conn)]


@router.post("/groups", response_model=schemas.GroupRead, status_code=201, tags=["admin"])
def create_group(body: schemas.GroupCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Create a sharing group."""
    accounts.create_group(conn, body.name, body.orgs, actor=p.email)
    group = accounts.get_group_by_name(conn, body.name)
    assert group is not None  # created just above
    # Names as stored, however the request spelled them.
    members = sorted({accounts.get_org_by_name_or_raise(conn, name).name for name in body.orgs})
    return schemas.GroupRead(name=group.name, orgs=members)


def _collection_read(conn: Connection, row: Any) -> schemas.CollectionRead:
    grants = accounts.collection_grants(conn, row.id)
    return schemas.CollectionRead(
        id=row.uuid,
        alias=row.alias,
        title=row.title,
        description=row.description,
        read=grants["read"],
        write=grants["write"],
    )


@router.get("/collections", response_model=list[schemas.CollectionRead], tags=["admin"])
def list_collections(_: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)) -> Any:
    """All collections with their readers and writers."""
    return [_collection_read(conn, r) for r in accounts.list_collections(conn)]


@router.post("/collections", response_model=schemas.CollectionRead, status_code=201, tags=["admin"])
def create_collection(
    body: schemas.CollectionCreate,
    p: Principal = Depends(admin_writer),
    conn: Connection = WRITE_CONN,
) -> Any:
    """Create a collection."""
    row = accounts.create_collection(
        conn,
        body.title,
        body.alias,
        readers=body.read,
        writers=body.write,
        description=body.description,
        actor=p.email,
    )
    return _collection_read(conn, row)


CURSOR_HELP = (
    "opaque cursor: the `next` value of the previous page, passed back unchanged; valid for the same caller and "
    "filters for 24 hours (400 otherwise: start again without it)"
)


@router.get("/audit", tags=["admin"])
def audit(
    after: str | None = Query(None, description=CURSOR_HELP),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(admin_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """The audit log, oldest first; `next` (present while there is more) is the cursor of the following page."""
    bound = cursors.binding(principal, "rest:audit", None)
    after_seq = 0 if after is None else cursors.read_cursor(after, bound, param="after")
    entries = list(list_entries(conn, after_seq=after_seq, limit=limit + 1))
    page: dict[str, Any] = {"entries": entries[:limit]}
    if len(entries) > limit:
        page["next"] = cursors.make_cursor(entries[limit - 1]["seq"], bound)
    return page


@router.get("/objects", tags=["objects"])
def list_objects(
    type: list[str] | None = Query(None),
    before: str | None = Query(None, description=CURSOR_HELP),
    limit: int = Query(100, ge=1, le=1000),
    principal: Principal = Depends(current_principal),
    conn: Connection = Depends(read_conn),
) -> Response:
    """The newest readable version of each object, newest first; `next` (while there is more) pages on."""
    bound = cursors.binding(principal, "rest:objects", sorted(set(type or ())))
    before_seq = None if before is None else cursors.read_cursor(before, bound, param="before")
    rows = queries.list_latest(conn, principal, types=type, before_seq=before_seq, limit=limit + 1)
    body = b'{"objects":[' + b",".join(raw for _, raw in rows[:limit]) + b"]"
    if len(rows) > limit:
        body += b',"next":' + orjson.dumps(cursors.make_cursor(rows[limit - 1][0], bound))
    return Response(body + b"}", media_type="application/json")


@router.get("/objects/{stix_id}", tags=["objects"])
def get_object(
    stix_id: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Any:
    """The newest readable version of one object; 404 when missing or unreadable (R7)."""
    obj = queries.get_latest(conn, principal, stix_id)
    if obj is None:
        raise NotFound(f"no object {stix_id}")
    return Response(orjson.dumps(obj), media_type="application/json")


@router.get("/objects/{stix_id}/versions", tags=["objects"])
def object_versions(
    stix_id: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Any:
    """The readable versions of one object, oldest first; 404 when none."""
    versions = queries.list_versions(conn, principal, stix_id)
    if not versions:
        raise NotFound(f"no object {stix_id}")
    return {"versions": versions}
