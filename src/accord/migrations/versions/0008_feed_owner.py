"""feeds belong to a local organisation: feed.org_id, each feed's link (peer.kind 'feed') and source record

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op

from accord.core.names import name_key
from accord.core.settings import get_settings

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (("org_id", "org"), ("peer_id", "peer"), ("source_org_id", "org"))
_CHILDREN = ("feed_pull", "feed_mark")  # tables whose rows cascade from feed

_org = sa.table(
    "org",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("stix_id", sa.String),
    sa.column("is_host", sa.Boolean),
    sa.column("is_remote", sa.Boolean),
    sa.column("created_us", sa.BigInteger),
)
_peer = sa.table(
    "peer",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("url", sa.Text),
    sa.column("local_org_id", sa.Integer),
    sa.column("created_us", sa.BigInteger),
    sa.column("kind", sa.String),
)
_group = sa.table("sharing_group", sa.column("id", sa.Integer), sa.column("name_key", sa.String))
_peer_org = sa.table("peer_org", sa.column("peer_id", sa.Integer), sa.column("org_id", sa.Integer))
_feed = sa.table(
    "feed",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("url", sa.Text),
    *(sa.column(name, sa.Integer) for name, _ in _COLUMNS),
)


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.add_column("peer", sa.Column("kind", sa.String(length=8), nullable=False, server_default="peer"))
    for name, target in _COLUMNS:
        if sqlite:
            # Alembic adds a foreign key on SQLite only by copying the table, and dropping feed for the copy would
            # cascade to its pulls and marks. SQLite adds a column NOT NULL only with a default: it stays nullable
            # there; the feeds service always sets it.
            op.execute(f"ALTER TABLE feed ADD COLUMN {name} INTEGER REFERENCES {target} (id)")
        else:
            op.add_column("feed", sa.Column(name, sa.Integer(), nullable=True))
            op.create_foreign_key(op.f(f"fk_feed_{name}_{target}"), "feed", target, [name], ["id"])
    _link_feeds(conn)
    if not sqlite:
        for name, _ in _COLUMNS:
            op.alter_column("feed", name, existing_type=sa.Integer(), nullable=False)


def _link_feeds(conn: sa.Connection) -> None:
    """Give every existing feed the host organisation as its owner, a link and a source record.

    What the feeds stored before stays as it was (the host organisation's own, with no link). The source records'
    identity objects are stored through the object store by their feed's next pull (accord.feeds.service).
    """
    feeds = conn.execute(sa.select(_feed.c.id, _feed.c.name, _feed.c.url).order_by(_feed.c.id)).all()
    if not feeds:
        return
    now = time.time_ns() // 1000
    host = conn.execute(sa.select(_org.c.id).where(_org.c.is_host.is_(True))).scalar()
    if host is None:
        # Feeds could be added before `accord init`; the host organisation is what `init` would create
        # (it stores the identity object and the TLP definitions on its next run).
        host = _insert_org(conn, _free_name(conn, _org, get_settings().host_org, "host"), now, is_host=True)
    for row in feeds:
        link = conn.execute(
            sa.insert(_peer)
            .values(
                name=_free_name(conn, _peer, f"feed:{row.name}", "link"),
                url=row.url,
                local_org_id=host,
                created_us=now,
                kind="feed",
            )
            .returning(_peer.c.id)
        ).scalar_one()
        source = _insert_org(conn, _free_name(conn, _org, f"feed:{row.name}", "source"), now, is_host=False)
        conn.execute(sa.insert(_peer_org).values(peer_id=link, org_id=source))
        owned = {"org_id": host, "peer_id": link, "source_org_id": source}
        conn.execute(sa.update(_feed).where(_feed.c.id == row.id).values(**owned))


def _insert_org(conn: sa.Connection, name: str, now: int, *, is_host: bool) -> Any:
    values = {
        "name": name,
        "name_key": name_key(name),
        "stix_id": f"identity--{uuid.uuid4()}",
        "is_host": is_host,
        "is_remote": not is_host,
        "created_us": now,
    }
    return conn.execute(sa.insert(_org).values(**values).returning(_org.c.id)).scalar_one()


def _taken(conn: sa.Connection, table: Any, name: str) -> bool:
    if table is _org:  # an organisation's name may be neither another organisation's nor a group's (migration 0007)
        key = name_key(name)
        return any(conn.execute(sa.select(t.c.id).where(t.c.name_key == key)).first() for t in (_org, _group))
    return conn.execute(sa.select(table.c.id).where(sa.func.lower(table.c.name) == name.lower())).first() is not None


def _free_name(conn: sa.Connection, table: Any, wanted: str, qualifier: str) -> str:
    """`wanted` if free, else it with `qualifier` (and a number) in brackets, as accounts.available_org_name."""
    wanted, name, n = wanted[:150], wanted[:150], 1
    while _taken(conn, table, name):
        n += 1
        name = f"{wanted} ({qualifier})" if n == 2 else f"{wanted} ({qualifier} {n - 1})"
    return name


def downgrade() -> None:
    # The links and source records stay: what was stored over them refers to them.
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # SQLite drops a column with a foreign key only by copying the table, and dropping feed for the copy
        # cascades to its pulls and marks: they are kept aside and put back.
        kept = {t: [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}")).mappings()] for t in _CHILDREN}
        with op.batch_alter_table("feed", schema=None) as batch_op:
            for name, _ in reversed(_COLUMNS):
                batch_op.drop_column(name)
        for table, rows in kept.items():
            if rows:
                names = ", ".join(f'"{c}"' for c in rows[0])
                values = ", ".join(f":{c}" for c in rows[0])
                conn.execute(sa.text(f"INSERT INTO {table} ({names}) VALUES ({values})"), rows)
    else:
        for name, _ in reversed(_COLUMNS):
            op.drop_column("feed", name)  # with its foreign key
    op.execute("ALTER TABLE peer DROP COLUMN kind")  # SQLite 3.35+ drops an unindexed column in place
