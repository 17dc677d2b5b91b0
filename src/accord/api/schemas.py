"""REST request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    """A request body: a field the route does not know is a 422, not silently dropped.

    A client that sends `readers` where the API takes `read` must hear so, or it creates a
    collection nobody may read and believes it shared it."""

    model_config = ConfigDict(extra="forbid")


class OrgCreate(Body):
    name: str = Field(min_length=1, max_length=200)


class OrgRead(BaseModel):
    name: str
    identity: str
    host: bool
    remote: bool = False  # a record of a source elsewhere (a feed's), listed to admins only


class UserCreate(Body):
    email: str
    org: str
    role: str
    password: str | None = Field(default=None, min_length=8)


class UserRead(BaseModel):
    email: str
    org: str
    role: str


class TokenCreate(Body):
    email: str
    read_only: bool = False
    expires_days: int | None = Field(default=None, ge=1, le=36_500)


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; only its hash is stored")


class TokenRead(BaseModel):
    prefix: str
    email: str
    read_only: bool
    expires_us: int | None
    revoked: bool
    created_us: int
    last_used_us: int | None


class GroupCreate(Body):
    name: str = Field(min_length=1, max_length=200)
    orgs: list[str] = []


class GroupRead(BaseModel):
    name: str
    orgs: list[str]


class CollectionCreate(Body):
    title: str = Field(min_length=1, max_length=300)
    alias: str
    description: str = ""
    read: list[str] = []
    write: list[str] = []


class CollectionRead(BaseModel):
    id: str
    alias: str
    title: str
    description: str
    read: list[str]
    write: list[str]


class Me(BaseModel):
    email: str
    org_id: int
    role: str
    read_only: bool
