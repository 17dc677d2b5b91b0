"""Small typed builders for test data."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy import Connection

from accord.accounts import service as accounts
from accord.stix.ids import deterministic_sco_id
from accord.stix.markings import Tlp, tlp_marking_definition

_counter = itertools.count(1)
TLP_IDS = {level: tlp_marking_definition(level)["id"] for level in Tlp}


def ts(second: int = 0, *, day: int = 1) -> str:
    """A STIX timestamp on 2026-01-<day> at the given second of the day."""
    h, rem = divmod(second, 3600)
    m, s = divmod(rem, 60)
    return f"2026-01-{day:02d}T{h:02d}:{m:02d}:{s:02d}.000Z"


def make_indicator(
    *,
    value: str | None = None,
    tlp: Tlp | None = None,
    created: str | None = None,
    modified: str | None = None,
    oid: str | None = None,
    created_by_ref: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A valid indicator for an IPv4 address."""
    n = next(_counter)
    created = created or ts(n % 80000)
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified or created,
        "name": f"Indicator {n}",
        "pattern": f"[ipv4-addr:value = '{value or f'198.51.{n // 250 % 250}.{n % 250 + 1}'}']",
        "pattern_type": "stix",
        "valid_from": created,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP_IDS[tlp]]
    if created_by_ref:
        obj["created_by_ref"] = created_by_ref
    obj.update(extra)
    return obj


def make_malware(name: str = "TestWorm", **extra: Any) -> dict[str, Any]:
    """A valid malware family."""
    t = ts(next(_counter) % 80000)
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": t,
        "modified": t,
        "name": name,
        "is_family": True,
        **extra,
    }


def make_ipv4(value: str) -> dict[str, Any]:
    """An ipv4-addr SCO with its deterministic id."""
    obj = {"type": "ipv4-addr", "spec_version": "2.1", "value": value}
    obj["id"] = deterministic_sco_id(obj)
    return obj


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    """A STIX bundle of the objects."""
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def make_org(conn: Connection, name: str | None = None) -> Any:
    """A new organisation row."""
    return accounts.create_org(conn, name or f"Org {next(_counter)}", actor="test")


def make_user(
    conn: Connection,
    org_name: str,
    role: str = "analyst",
    email: str | None = None,
    password: str | None = "correct horse battery",
) -> Any:
    """A new user row."""
    email = email or f"user{next(_counter)}@example.org"
    return accounts.create_user(conn, email, org_name, role, password, actor="test")


def make_collection(conn: Connection, alias: str | None = None, *, readers: list[str], writers: list[str]) -> Any:
    """A new collection row."""
    alias = alias or f"col{next(_counter)}"
    return accounts.create_collection(conn, alias.title(), alias, readers=readers, writers=writers, actor="test")
