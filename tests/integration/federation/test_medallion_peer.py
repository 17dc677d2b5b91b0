"""A real medallion 3.0.0 as a peer: pulled from (paged, all versions, incremental, reconciled) and pushed to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from accord.accounts.service import create_org, host_org
from accord.core.db import transaction
from accord.demo.service import ensure_host_org
from accord.federation.service import PeerSpec, add_peer, subscribe
from accord.federation.sync import run_subscription
from accord.models.federation import receipt
from accord.models.objects import collection_object, stix_object
from accord.remote.taxii import TaxiiClient
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_collection, make_indicator
from tests.medallion import Medallion, running_medallion


@pytest.fixture
def node(engine: Engine) -> dict[str, Any]:
    """The host organisation, a collection it pulls into and one it publishes from."""
    with transaction(engine) as conn:
        ensure_host_org(conn)
        host = host_org(conn)
        assert host is not None
        create_org(conn, "Medallion operators", actor="test", is_remote=True)
        make_collection(conn, "inbound", readers=[host.name], writers=[host.name])
        make_collection(conn, "outbound", readers=[host.name, "Medallion operators"], writers=[host.name])
    return {"host": host}


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[tuple[Medallion, list[dict]]]:
    objects = [make_indicator() for _ in range(7)]
    with running_medallion(tmp_path, objects=objects, page_size=3) as server:
        yield server, objects


def _peer(engine: Engine, node: dict, server: Medallion) -> None:
    with transaction(engine) as conn:
        add_peer(
            conn,
            PeerSpec(
                name="medallion",
                url=server.discovery,  # a discovery URL finds the API root
                org=node["host"].name,
                username=server.username,
                token=server.password,
                allow_private=True,
                remote_org="Medallion operators",
            ),
            actor="test",
        )


def _inbound(engine: Engine) -> dict[str, list[str]]:
    with transaction(engine) as conn:
        rows = conn.execute(
            select(stix_object.c.id, stix_object.c.version)
            .join(collection_object, collection_object.c.object_seq == stix_object.c.seq)
            .where(stix_object.c.type == "indicator")
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.id, []).append(r.version)
    return out


def test_pull_from_medallion_pages_versions_and_resumes(engine: Engine, node: dict, medallion) -> None:
    server, objects = medallion
    _peer(engine, node, server)
    with transaction(engine) as conn:
        sub = subscribe(conn, "medallion", "pull", remote_collection=server.collection, collection="inbound")
    result = run_subscription(engine, sub.id)
    assert result.status == "ok", result.error
    assert (result.stored, result.duplicates, result.refused) == (7, 0, 0)  # 3 pages of 3, 3, 1
    assert set(_inbound(engine)) == {o["id"] for o in objects}
    with transaction(engine) as conn:
        assert conn.execute(select(func.count()).select_from(receipt)).scalar_one() == 7

    # Nothing new: nothing stored, nothing duplicated beyond the watermark's boundary.
    again = run_subscription(engine, sub.id)
    assert again.status == "ok"
    assert again.stored == 0

    # A new version on the remote side arrives as a version (all versions are asked for).
    newer = {**objects[0], "modified": "2030-01-01T00:00:00.000Z", "name": "changed"}
    with TaxiiClient(server.remote()) as client:
        assert client.add_objects(server.collection, [newer])["status"] == "complete"
    third = run_subscription(engine, sub.id)
    assert third.status == "ok"
    assert third.stored == 1
    assert len(_inbound(engine)[objects[0]["id"]]) == 2


def test_reconcile_removes_what_medallion_no_longer_holds(engine: Engine, node: dict, medallion) -> None:
    server, objects = medallion
    _peer(engine, node, server)
    with transaction(engine) as conn:
        sub = subscribe(conn, "medallion", "pull", remote_collection=server.collection, collection="inbound")
    assert run_subscription(engine, sub.id).stored == 7
    # medallion 3.0.0 deletes by id over TAXII.
    import httpx

    gone = objects[2]["id"]
    r = httpx.delete(
        f"{server.api_root}collections/{server.collection}/objects/{gone}/",
        auth=(server.username, server.password),
        headers={"Accept": "application/taxii+json;version=2.1"},
    )
    assert r.status_code == 200, r.text
    result = run_subscription(engine, sub.id, reconcile_removed=True)
    assert result.status == "ok", result.error
    assert result.removed == 1
    assert gone not in _inbound(engine)
    assert len(_inbound(engine)) == 6


def test_push_to_medallion_sends_what_its_record_may_read(engine: Engine, node: dict, medallion) -> None:
    server, _ = medallion
    _peer(engine, node, server)
    host = node["host"]
    mine = [make_indicator(value=f"192.0.2.{i}") for i in range(1, 5)]
    with transaction(engine) as conn:
        from accord.accounts.service import get_collection_by_alias_or_raise

        out_id = get_collection_by_alias_or_raise(conn, "outbound").id
        ingest(conn, mine, WriteContext(writer_org_id=host.id, collection_id=out_id))
        # RED in the pushed collection: the peer's organisation may not read it, so it is never sent (F1, R2).
        hidden = make_indicator(value="192.0.2.99", tlp=Tlp.RED)
        ingest(conn, [hidden], WriteContext(writer_org_id=host.id, collection_id=out_id))
        sub = subscribe(conn, "medallion", "push", remote_collection=server.collection, collection="outbound")
    result = run_subscription(engine, sub.id)
    assert result.status == "ok", result.error
    assert (result.sent, result.refused) == (4, 0)
    with TaxiiClient(server.remote()) as client:
        remote = {o["id"] for page in client.objects_pages(server.collection) for o in page.objects}
    assert {o["id"] for o in mine} <= remote
    assert hidden["id"] not in remote
    # Pushed once: a second run sends nothing.
    assert run_subscription(engine, sub.id).sent == 0
