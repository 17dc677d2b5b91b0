"""`accord init` and `accord demo`: the host organisation, and a small two-organisation community."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from accord.accounts import service as accounts
from accord.core.settings import get_settings
from accord.demo.content import marking_definitions, org_content
from accord.store.service import IngestReport, WriteContext, ingest

DEMO_PASSWORD = "accord-demo"  # noqa: S105 - printed on purpose: demo credentials for a local first look
DEMO_ORGS = [
    ("CERT Alpha", "alpha", "alice@alpha.example", 101),
    ("SOC Bravo", "bravo", "bob@bravo.example", 202),
]
ADMIN_EMAIL = "admin@accord.local"


def ensure_host_org(conn: Connection) -> int:
    """The host organisation, created on first run; returns its id."""
    host = accounts.host_org(conn)
    if host is None:
        host = accounts.create_org(conn, get_settings().host_org, actor="init", is_host=True)
    else:
        # Migration 0008 makes the host organisation of a node that had feeds but no `init`: it has no
        # identity object or TLP definitions yet (storing them again is a no-op).
        accounts.ensure_identity(conn, host)
    ingest(conn, marking_definitions(), WriteContext(writer_org_id=host.id))
    return int(host.id)


@dataclass
class DemoResult:
    """What `accord demo` created (nothing when it had already run)."""

    created: bool
    users: list[tuple[str, str, str]] = field(default_factory=list)  # email, org, role
    report: IngestReport = field(default_factory=IngestReport)


def load_demo(conn: Connection) -> DemoResult:
    """Create the demo community once: two orgs, users, a shared collection and their intelligence."""
    host_id = ensure_host_org(conn)
    if accounts.get_org_by_name(conn, DEMO_ORGS[0][0]) is not None:
        return DemoResult(created=False, users=_users())
    host = accounts.host_org(conn)
    assert host is not None
    assert host.id == host_id
    accounts.create_user(conn, ADMIN_EMAIL, host.name, "admin", DEMO_PASSWORD, actor="demo")
    orgs = {}
    for name, key, email, _seed in DEMO_ORGS:
        orgs[key] = accounts.create_org(conn, name, actor="demo")
        accounts.create_user(conn, email, name, "analyst", DEMO_PASSWORD, actor="demo")
    accounts.create_group(conn, "Alliance", [n for n, *_ in DEMO_ORGS], actor="demo")
    shared = accounts.create_collection(
        conn,
        "Alliance shared intelligence",
        "shared",
        readers=["Alliance"],
        writers=["Alliance"],
        description="Everything the alliance shares (TLP:CLEAR to TLP:AMBER)",
        actor="demo",
    )
    result = DemoResult(created=True, users=_users())
    for name, key, _email, seed in DEMO_ORGS:
        accounts.create_collection(
            conn, f"{name} internal", f"{key}-internal", readers=[name], writers=[name], actor="demo"
        )
        content = org_content(key, orgs[key].stix_id, seed=seed)
        result.report.merge(ingest(conn, content, WriteContext(writer_org_id=orgs[key].id, collection_id=shared.id)))
    return result


def _users() -> list[tuple[str, str, str]]:
    return [(ADMIN_EMAIL, get_settings().host_org, "admin")] + [(e, n, "analyst") for n, _k, e, _s in DEMO_ORGS]
