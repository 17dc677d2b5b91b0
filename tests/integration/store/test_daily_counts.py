"""The dashboard's per-day counts (accord.store.daily) follow every write: new versions, a version added to another
collection later, memberships removed (TAXII DELETE, a peer's removal), and always equal the readable versions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from accord.accounts import service as accounts
from accord.models.objects import collection_object, daily_count
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp, tlp_marking_definition
from accord.store import daily, queries
from accord.store.repository import delete_memberships
from accord.store.service import WriteContext, ingest


def _indicator(n: int, tlp: Tlp | None, by: str) -> dict[str, Any]:
    t = "2026-03-01T00:00:00.000Z"
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=n, version=4)}",
        "created": t,
        "modified": t,
        "pattern": f"[ipv4-addr:value = '198.51.100.{n}']",
        "pattern_type": "stix",
        "valid_from": t,
        "created_by_ref": by,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [tlp_marking_definition(tlp)["id"]]
    return obj


def _total(conn: Any, org_id: int, role: str = "analyst") -> int:
    p = principal_for(conn, org_id=org_id, role=role)
    fast = queries.daily_counts(conn, p, since_us=0)
    assert fast == queries.daily_counts_scan(conn, p, since_us=0)
    return sum(fast.values())


def test_counts_follow_writes_and_membership_changes(conn):
    a = accounts.create_org(conn, f"A {uuid.uuid4().hex[:6]}", actor="test")
    b = accounts.create_org(conn, f"B {uuid.uuid4().hex[:6]}", actor="test")
    c = accounts.create_org(conn, f"C {uuid.uuid4().hex[:6]}", actor="test")
    shared = accounts.create_collection(conn, "Shared", f"shared-{a.id}", readers=[a.name, b.name], writers=[a.name])
    own = accounts.create_collection(conn, "Own", f"own-{a.id}", readers=[a.name], writers=[a.name])
    wide = accounts.create_collection(conn, "Wide", f"wide-{a.id}", readers=[a.name, c.name], writers=[a.name, c.name])
    base_a, base_b, base_c = _total(conn, a.id), _total(conn, b.id), _total(conn, c.id)

    # A stores four indicators in its own collection: B and C read none of them
    tlps = [Tlp.GREEN, Tlp.AMBER, Tlp.RED, None]
    objs = [_indicator(n + 1, tlp, a.stix_id) for n, tlp in enumerate(tlps)]
    assert ingest(conn, objs, WriteContext(writer_org_id=a.id, collection_id=own.id)).stored == 4
    assert _total(conn, b.id) == base_b
    assert _total(conn, c.id) == base_c

    # the same versions put into the shared collection by A (existing versions gain a membership): B reads the
    # GREEN, the AMBER and the unmarked (AMBER by default) ones, never the RED one
    ingest(conn, objs, WriteContext(writer_org_id=a.id, collection_id=shared.id))
    assert _total(conn, b.id) == base_b + 3
    assert _total(conn, c.id) == base_c

    # two of them into a collection C reads: C reads the GREEN and the AMBER one (the owner published it, R4)
    ingest(conn, objs[:2], WriteContext(writer_org_id=a.id, collection_id=wide.id))
    assert _total(conn, c.id) == base_c + 2

    # A removes them from the shared collection: B reads none again
    m = collection_object.c
    ticks = list(conn.execute(select(m.tick).where(m.collection_id == shared.id)).scalars())
    assert delete_memberships(conn, ticks) == 4
    assert _total(conn, b.id) == base_b
    assert _total(conn, c.id) == base_c + 2
    assert _total(conn, a.id) == base_a + 4  # the owner reads its own wherever they are (R1)

    # the table never keeps a negative count, and a recount from scratch finds what the write path kept
    d = daily_count.c
    kept = {tuple(r[:-1]): r[-1] for r in conn.execute(select(daily_count).where(d.n != 0))}
    assert all(n > 0 for n in kept.values())
    daily.rebuild(conn)
    assert {tuple(r[:-1]): r[-1] for r in conn.execute(select(daily_count).where(d.n != 0))} == kept
