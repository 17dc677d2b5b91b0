"""A database made at every earlier schema revision, holding data, upgrades to head with its data intact."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from accord.accounts import security
from accord.accounts import service as accounts
from accord.accounts.credentials import Credentials
from accord.audit.service import record, verify
from accord.core import db as core_db
from accord.core import settings as core_settings
from accord.core.keys import decrypt_secret, encrypt_secret
from accord.core.migrate import alembic_config
from accord.core.names import name_key
from accord.stix.ids import id_key
from tests.integration.ops.empty_db import empty_database

_SCRIPT = ScriptDirectory.from_config(alembic_config())
HEAD = _SCRIPT.get_current_head()
EARLIER = sorted(rev.revision for rev in _SCRIPT.walk_revisions() if rev.revision != HEAD)
INDICATOR = f"indicator--{uuid.UUID(int=1)}"
RECEIVED = f"indicator--{uuid.UUID(int=2)}"
FEED_PASSWORD = "feed pass wörd"
CASE, TASK, RFI = (
    f"{kind}--{uuid.UUID(int=n)}" for kind, n in (("x-accord-case", 4), ("x-accord-task", 5), ("x-accord-rfi", 6))
)


@pytest.fixture
def old_engine(backend: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """An engine on a new empty database of this backend; the node's key directory in tmp_path."""
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    with empty_database(backend["kind"], tmp_path) as url:
        engine = core_db.make_engine(url)
        yield engine
        engine.dispose()
    core_settings.get_settings.cache_clear()


def _migrate(engine: sa.Engine, target: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def _stix(stix_id: str, modified: str, name: str) -> bytes:
    body = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": name,
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    return orjson.dumps(body)


def _rows(token: tuple[str, str], feed_password: str) -> dict[str, list[dict[str, Any]]]:
    """Representative rows of every table, by table; a table or column a revision lacks is left out there."""
    v1, v2 = "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"
    objects = [
        (1, INDICATOR, v1, 2, None, "first"),
        (2, INDICATOR, v2, 2, None, "second"),
        (3, RECEIVED, v1, 3, 1, "from a partner"),
    ]
    orgs = [
        (1, "Host Organisation", True, False),
        (2, "CERT Alpha", False, False),
        (3, "Partner CERT", False, True),
        (4, "feed:f1", False, True),
    ]
    return {
        "org": [
            {"id": i, "name": n, "name_key": name_key(n), "stix_id": f"identity--{uuid.UUID(int=100 + i)}"}
            | {"is_host": host, "is_remote": remote, "created_us": 10 + i}
            for i, n, host, remote in orgs
        ],
        "sharing_group": [{"id": 1, "name": "Pact", "name_key": "pact", "description": "d", "created_us": 5}],
        "sharing_group_member": [{"group_id": 1, "org_id": 2}, {"group_id": 1, "org_id": 3}],
        "app_user": [
            {"id": 1, "email": "admin@host.example", "org_id": 1, "role": "admin", "password_hash": None}
            | {"disabled": False, "created_us": 15},
            {"id": 2, "email": "alice@alpha.example", "org_id": 2, "role": "analyst", "password_hash": "$argon2id$x"}
            | {"disabled": False, "created_us": 16},
        ],
        "api_token": [
            {"id": 1, "user_id": 2, "prefix": token[0], "token_hash": token[1], "read_only": False}
            | {"expires_us": None, "revoked_us": None, "created_us": 20, "last_used_us": None}
        ],
        "collection": [
            {"id": 1, "uuid": str(uuid.UUID(int=50)), "alias": "intel", "title": "Intel", "description": ""}
            | {"created_us": 30}
        ],
        "collection_grant": [
            {"id": 1, "collection_id": 1, "mode": "read", "org_id": None, "group_id": 1},
            {"id": 2, "collection_id": 1, "mode": "write", "org_id": 2, "group_id": None},
        ],
        "peer": [
            {"id": 1, "name": "partner", "url": "https://partner.example/taxii2/", "local_org_id": 2}
            | {"created_us": 40, "kind": "peer", "secret": None, "username": None, "allow_private": False}
            | {"public_key": None, "source_org_id": 3, "enabled": True, "timeout_seconds": 60.0},
            {"id": 2, "name": "feed:f1", "url": "https://feeds.example/x.csv", "local_org_id": 1}
            | {"created_us": 41, "kind": "feed", "secret": None, "username": None, "allow_private": False}
            | {"public_key": None, "source_org_id": None, "enabled": True, "timeout_seconds": 120.0},
        ],
        "peer_org": [{"peer_id": 1, "org_id": 3}, {"peer_id": 2, "org_id": 4}],
        "stix_object": [
            {"seq": seq, "id": sid, "type": "indicator", "version": ver, "created": v1, "spec_version": "2.1"}
            | {"revoked": False, "is_latest": seq != 1, "owner_org_id": owner, "tlp": 2, "peer_id": peer}
            | {"body_hash": hashlib.md5(_stix(sid, ver, name)).digest(), "raw": _stix(sid, ver, name)}
            | {"id_key": id_key(sid), "sole_copy": True}
            for seq, sid, ver, owner, peer, name in objects
        ],
        "collection_object": [
            {"tick": seq, "collection_id": 1, "object_seq": seq, "added_by_org_id": owner}
            for seq, _, _, owner, _, _ in objects
        ],
        "value_index": [
            {"kind": "ipv4", "key": "198.51.100.7", "object_seq": seq, "value": "198.51.100.7"}
            | {"lo": None, "hi": None, "correlating": True}
            for seq in (2, 3)
        ],
        "job": [
            {"id": 1, "kind": "feed.pull", "payload": b'{"feed_id": 1}', "status": "queued", "run_after_us": 0}
            | {"attempts": 0, "last_error": None, "created_us": 50, "updated_us": 50}
        ],
        "login_failure": [{"id": 1, "subject": "account:alice@alpha.example", "at_us": 60}],
        "node_clock": [{"id": 1, "last_us": 70}],
        "node_setting": [{"key": "upgrade-test", "value": "kept"}],
        "taxii_status": [
            {"id": str(uuid.UUID(int=80)), "collection_id": 1, "org_id": 2, "status": "complete", "request_us": 80}
            | {"total_count": 1, "success_count": 1, "failure_count": 0, "pending_count": 0, "detail": b"[]"}
        ],
        "feed": [
            {"id": 1, "name": "f1", "url": "https://feeds.example/x.csv", "format": "csv", "collection_id": 1}
            | {"item_type": None, "csv_columns": None, "delimiter": ",", "skip_header": False, "tlp": "green"}
            | {"every_minutes": 60, "taxii_collection": None, "username": "u", "password": feed_password}
            | {"timeout_seconds": 20.0, "max_bytes": 1000, "enabled": True, "etag": '"e1"', "last_modified": None}
            | {"content_hash": None, "cursor": None, "last_pull_us": 90, "last_status": "ok", "last_error": None}
            | {"created_us": 90, "org_id": 1, "peer_id": 2, "source_org_id": 4}
        ],
        "feed_pull": [
            {"id": 1, "feed_id": 1, "started_us": 90, "finished_us": 91, "status": "ok", "http_status": 200}
            | {"fetched_bytes": 10, "stored": 1, "duplicates": 0, "refused": 0, "error": None}
        ],
        "feed_mark": [{"feed_id": 1, "key": "198.51.100.7", "stamp": "s"}],
        "extraction_drafts": [
            {"id": str(uuid.UUID(int=95)), "org_id": 2, "user_id": 2, "created_us": 95, "title": "report"}
            | {"findings": b"[]", "bundle": b"{}", "status": "draft", "collection_id": 1, "published_us": None}
        ],
        "worker_lease": [{"name": "scheduler", "holder": "w1", "until_us": 99}],
        "joint_case": [
            {"id": 1, "stix_id": CASE, "collection_id": 1, "owner_org_id": 2, "seq": 2, "version": v2}
            | {"status": "open", "title": "A case", "severity": "high", "priority": "p2", "tlp": 2}
            | {"created_us": 110, "updated_us": 111, "opened_by": "alice@alpha.example"}
        ],
        "joint_task": [
            {"id": 1, "stix_id": TASK, "case_id": 1, "owner_org_id": 2, "seq": 2, "title": "Block it"}
            | {"status": "todo", "assignee": "alice@alpha.example", "due": None, "updated_us": 112}
        ],
        "joint_link": [{"id": 1, "case_id": 1, "object_id": INDICATOR, "object_key": id_key(INDICATOR), "seq": 2}],
        "joint_event": [
            {"id": 1, "case_id": 1, "seq": 2, "task_id": None, "at_us": 113, "kind": "case.created"}
            | {"actor": "alice@alpha.example", "summary": "opened"}
        ],
        "joint_rfi": [
            {"id": 1, "stix_id": RFI, "collection_id": 1, "owner_org_id": 2, "seq": 2, "status": "open"}
            | {"title": "Seen this?", "due": None, "tlp": 2, "created_us": 114, "updated_us": 114}
            | {"asked_by": "alice@alpha.example"}
        ],
        "joint_rfi_answer": [{"id": 1, "rfi_id": 1, "org_id": 3, "seq": 3, "at_us": 115}],
        "joint_notification": [
            {"id": 1, "public_id": str(uuid.UUID(int=116)), "user_id": 2, "seq": 2, "kind": "task.assigned"}
            | {"subject": TASK, "summary": "a task for you", "at_us": 116, "read_us": None}
        ],
        "webhook": [
            {"id": 1, "public_id": str(uuid.UUID(int=117)), "org_id": 3, "url": "https://hooks.bravo.example/a"}
            | {"secret": encrypt_secret("a webhook secret of bravo"), "created_us": 117, "created_by": "cli"}
        ],
        "webhook_delivery": [
            {"id": 1, "public_id": str(uuid.UUID(int=118)), "webhook_id": 1, "notification_id": 1, "status": "dead"}
            | {"attempts": 6, "last_status": 500, "last_error": "the receiver answered HTTP 500"}
            | {"created_us": 118, "updated_us": 119}
        ],
        "peer_subscription": [
            {"id": 1, "peer_id": 1, "direction": "pull", "remote_collection": "shared", "collection_id": 1}
            | {"live": False, "every_seconds": None, "enabled": True, "watermark": v1, "watermark_partial": False}
            | {"stream_cursor": None, "position": 0, "created_us": 42, "last_run_us": 43, "last_ok_us": 43}
            | {"last_error": None, "failures": 0, "next_run_us": 44, "received": 1, "stored": 1, "duplicates": 0}
            | {"refused": 0, "removed": 0, "sent": 0}
        ],
        "object_receipt": [
            {"object_seq": 3, "peer_id": 1, "subscription_id": 1, "remote_collection": "shared", "received_us": 43}
        ],
        "collection_removal": [
            {"tick": 100, "collection_id": 1, "object_seq": 1, "added_by_org_id": 2, "removed_us": 100}
        ],
    }


def _fill(engine: sa.Engine, revision: str, token: tuple[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Insert the rows this revision's schema can hold; what was inserted, by table."""
    # Feed passwords were stored in plain text until 0010 encrypted them.
    encrypted = revision >= "0010"
    rows = _rows(token, encrypt_secret(FEED_PASSWORD) if encrypted else FEED_PASSWORD)
    inserted: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        if "kind" not in {c["name"] for c in inspector.get_columns("peer")}:
            # Before 0008 a feed had no link and no source record (0008 makes them).
            rows["org"], rows["peer"], rows["peer_org"] = rows["org"][:3], rows["peer"][:1], rows["peer_org"][:1]
        for name, table_rows in rows.items():
            if name not in present:
                continue
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            kept = [{k: v for k, v in row.items() if k in table.c} for row in table_rows]
            missing = set(table.c.keys()) - set(kept[0])
            assert not missing, f"the test data of {name} at {revision} names no {sorted(missing)}"
            conn.execute(sa.insert(table), kept)
            inserted[name] = kept
            if conn.dialect.name == "postgresql":  # explicit ids leave a serial's sequence behind: advance it
                for column in table.primary_key.columns:
                    serial = conn.execute(sa.select(sa.func.pg_get_serial_sequence(name, column.name))).scalar()
                    if serial:
                        conn.execute(sa.text(f"SELECT setval('{serial}', (SELECT max({column.name}) FROM {name}))"))
        record(conn, "cli", "upgrade-test.fill", revision, tables=len(inserted))
    return inserted


@pytest.mark.parametrize("revision", EARLIER)
def test_a_database_at_every_earlier_revision_upgrades_with_its_data(old_engine: sa.Engine, revision: str) -> None:
    _migrate(old_engine, revision)
    token, prefix, digest = security.new_token()
    inserted = _fill(old_engine, revision, (prefix, digest))

    _migrate(old_engine, "head")

    with old_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        for name, rows in inserted.items():
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            stored = [row._asdict() for row in conn.execute(sa.select(table))]
            for row in rows:
                key = {k: row[k] for k in (c.name for c in table.primary_key.columns)}
                match = [s for s in stored if all(s[k] == v for k, v in key.items())]
                assert len(match) == 1, (name, key)
                for column, value in row.items():
                    if (name, column) == ("feed", "password"):
                        assert decrypt_secret(match[0][column]) == FEED_PASSWORD
                    else:
                        assert match[0][column] == value, (name, column)
        # What the migrations since made of the data: keys filled, feeds linked to an owner, names keyed.
        keys = conn.execute(sa.text("SELECT id, id_key FROM stix_object ORDER BY seq")).all()
        assert [tuple(k) for k in keys] == [(sid, id_key(sid)) for sid in (INDICATOR, INDICATOR, RECEIVED)]
        assert conn.execute(sa.text("SELECT count(*) FROM org WHERE name_key IS NULL")).scalar() == 0
        if revision < "0016":  # every version stored before 0016 has its name in the search index
            words = conn.execute(sa.text("SELECT key, object_seq FROM value_index WHERE kind = 'text:word'")).all()
            assert sorted(tuple(w) for w in words) == [("first", 1), ("from", 3), ("partner", 3), ("second", 2)]
        if "feed" in inserted:
            owner = conn.execute(sa.text("SELECT org_id, peer_id, source_org_id FROM feed")).one()
            assert None not in owner
            assert conn.execute(sa.text("SELECT kind FROM peer WHERE id = :p"), {"p": owner[1]}).scalar() == "feed"
        assert conn.execute(sa.text("SELECT kind FROM peer WHERE name = 'partner'")).scalar() == "peer"
        if revision < "0015":  # 0015 counted every stored version for the dashboard: (day, owner, peer, tlp, kind,
            # memberships) -> n (from 0015 on the write path counts; rows put in by hand here are not counted)
            counted = conn.execute(sa.text("SELECT day, owner_org_id, peer_id, tlp, kind, members, n FROM daily_count"))
            assert sorted(tuple(r) for r in counted) == [(0, 2, 0, 2, 0, "1:1", 2), (0, 3, 1, 2, 0, "1:1", 1)]
        if "joint_link" in inserted and revision < "0019":  # 0019 recorded the values of objects linked to cases
            # before it (from 0019 on the store's hook records them; rows put in by hand here are not recorded)
            values = conn.execute(sa.text("SELECT case_id, kind, key, object_id FROM joint_case_value")).all()
            assert [tuple(v) for v in values] == [(1, "ip", "198.51.100.7", INDICATOR)]
        # 0020 records no warninglist matches for the rows before it: exports match those at export time
        recorded = "SELECT count(*) FROM indicator_value WHERE listed IS NOT NULL OR listed_by IS NOT NULL"
        assert conn.execute(sa.text(recorded)).scalar() == 0
        if revision < "0017":  # 0017 filled what exports read of every indicator version stored before it:
            # its head row, then its value
            rows = conn.execute(sa.text("SELECT object_seq, ord, kind, value FROM indicator_value ORDER BY 1, 2"))
            assert [tuple(v) for v in rows] == [
                (seq, n, *row) for seq in (1, 2, 3) for n, row in enumerate([(None, None), ("ip", "198.51.100.7")])
            ]
        assert verify(conn).ok
        principal = accounts.authenticate(conn, Credentials(token=token))
        assert principal is not None
        assert principal.org_id == 2
