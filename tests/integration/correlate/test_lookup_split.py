"""A large batch is answered half here, half by a helper process: the answers are exactly the one-process ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from accord.core import helpers
from accord.core.db import get_engine, read_transaction
from accord.core.settings import get_settings
from accord.correlate import lookup as lookup_mod
from accord.demo.service import ensure_host_org
from accord.sharing.repository import principal_for
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_collection, make_org
from tests.integration.correlate.conftest import ind


@pytest.fixture
def one_helper(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """One helper process, a low split threshold, and a record of the tasks it was given."""
    monkeypatch.setattr(helpers, "helper_count", lambda: 1)
    monkeypatch.setattr(lookup_mod, "SPLIT_MIN", 4)
    handed: list[Any] = []
    submit = helpers.submit

    def recording(task: str, request: bytes) -> helpers.Pending | None:
        pending = submit(task, request)
        handed.append(pending)
        return pending

    monkeypatch.setattr(helpers, "submit", recording)
    helpers.shutdown()
    yield handed
    helpers.shutdown()


def _store() -> dict[str, Any]:
    with get_engine().begin() as conn:
        ensure_host_org(conn)
        alpha, bravo = make_org(conn, "Alpha"), make_org(conn, "Bravo")
        make_org(conn, "Charlie")
        shared = make_collection(conn, "shared", readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"])
        objects = [ind(f"[ipv4-addr:value = '198.51.100.{i}']") for i in range(1, 30)]
        objects += [ind("[ipv4-addr:value = '203.0.113.0/24']"), ind("[domain-name:value = 'evil-actor.com']")]
        objects += [ind("[url:value = 'https://cdn.evil-actor.com/x.js']")]
        objects += [ind("[domain-name:value = 'hidden.example']")]
        objects += [ind("[domain-name:value = 'red.evil-actor.com']", tlp=Tlp.RED)]
        report = ingest(conn, objects, WriteContext(writer_org_id=alpha.id, collection_id=shared.id))
        assert report.refused == 0, report.reasons
        return {"bravo": bravo.id}


VALUES = [
    "198.51.100.7",
    "198[.]51[.]100[.]8",
    "203.0.113.9",
    "a.evil-actor.com",
    "evil-actor.com",
    "red.evil-actor.com",
    "hxxps://cdn[.]evil-actor[.]com/x.js",
    "8.8.8.8",
    "absent.example.org",
    "198.51.100.7",
    "not a value at all",
] * 3


def test_split_batch_answers_exactly_like_one_process(db_url: str, one_helper: list[Any]) -> None:
    ids = _store()
    with read_transaction(get_engine()) as conn:
        bravo = principal_for(conn, org_id=ids["bravo"], role="analyst")
        # No helper is ready yet: this batch is answered here alone.
        expected = lookup_mod.lookup(conn, bravo, VALUES)
    assert one_helper == [None]
    assert helpers.wait_ready()
    with read_transaction(get_engine()) as conn:
        split = lookup_mod.lookup(conn, bravo, VALUES)
        as_json = orjson.loads(lookup_mod.lookup_json(conn, bravo, VALUES))
    assert len(one_helper) == 3
    assert all(pending is not None for pending in one_helper[1:])
    assert split == expected
    assert as_json == expected
    # The batch really has answers on both sides of the split, including one the policy hides.
    matched = [bool(item.get("matches")) for result in expected for item in result["values"]]
    assert any(matched[: len(matched) // 2])
    assert any(matched[len(matched) // 2 :])
    red = next(r for r in expected if r["input"] == "red.evil-actor.com")["values"][0]
    assert {m["match"] for m in red["matches"]} == {"parent-domain"}


def test_a_failed_helper_answers_here(db_url: str, one_helper: list[Any]) -> None:
    ids = _store()
    assert helpers.wait_ready()
    with read_transaction(get_engine()) as conn:
        bravo = principal_for(conn, org_id=ids["bravo"], role="analyst")
        limit, cap = get_settings().correlation_widespread, get_settings().correlation_count_cap
        expected = lookup_mod._lookup(conn, bravo, VALUES, limit, cap, lookup_mod.matching.matcher())
        for helper in helpers._helpers:
            helper.proc.kill()
            helper.proc.wait()
        assert lookup_mod.lookup(conn, bravo, VALUES) == expected


def test_a_batch_inside_a_write_is_never_split(conn: Any, one_helper: list[Any]) -> None:
    # A write transaction may hold uncommitted objects a helper's snapshot could not see.
    ensure_host_org(conn)
    org = make_org(conn, "Alpha")
    ingest(conn, [ind("[domain-name:value = 'evil-actor.com']")], WriteContext(writer_org_id=org.id))
    assert helpers.wait_ready()
    [result] = lookup_mod.lookup(conn, principal_for(conn, org_id=org.id, role="analyst"), ["evil-actor.com"] * 5)[:1]
    assert one_helper == []  # no helper was even asked
    assert result["values"][0]["matches"]
