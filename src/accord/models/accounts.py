"""Organisations, users, API tokens, sharing groups, login throttling."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from accord.core.names import NAME_KEY_MAX
from accord.models.base import metadata

# Names of organisations and sharing groups are unique, and looked up, by name_key (accord.core.names.name_key),
# computed in Python: the databases' own lower() differ (SQLite folds ASCII only), so two spellings of one name
# became two organisations. A unique index rather than a constraint: SQLite adds one without copying the table.

org = Table(
    "org",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("name_key", String(NAME_KEY_MAX), nullable=False),
    Column("stix_id", String(100), nullable=False, unique=True),
    Column("is_host", Boolean, nullable=False, default=False),
    Column("is_remote", Boolean, nullable=False, default=False),
    Column("created_us", BigInteger, nullable=False),
    Index("uq_org_name_key", "name_key", unique=True),
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("org_id", Integer, ForeignKey("org.id"), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_us", BigInteger, nullable=False),
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("app_user.id"), nullable=False, index=True),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("token_hash", String(128), nullable=False),
    Column("read_only", Boolean, nullable=False, default=False),
    Column("expires_us", BigInteger, nullable=True),
    Column("revoked_us", BigInteger, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    # Written at most once a minute per token (accord.accounts.authentication.note_token_use), never per request.
    Column("last_used_us", BigInteger, nullable=True),
)

sharing_group = Table(
    "sharing_group",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("name_key", String(NAME_KEY_MAX), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_us", BigInteger, nullable=False),
    Index("uq_sharing_group_name_key", "name_key", unique=True),
)

sharing_group_member = Table(
    "sharing_group_member",
    metadata,
    Column("group_id", Integer, ForeignKey("sharing_group.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", Integer, ForeignKey("org.id", ondelete="CASCADE"), primary_key=True, index=True),
)

login_failure = Table(
    "login_failure",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("subject", String(400), nullable=False, index=True),
    Column("at_us", BigInteger, nullable=False),
    UniqueConstraint("subject", "at_us"),
)
