"""`accord case` and `accord task` as users run them: the same rules as the REST API, one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from tests.integration.cli.cli_runner import Result, run_cli


@pytest.fixture
def cli(db_url: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, *args)

    assert run("init").code == 0
    for org in ("Alpha", "Bravo", "Charlie"):
        assert run("org", "create", org).code == 0
    for email, org, role in (
        ("alice@alpha.example", "Alpha", "analyst"),
        ("bob@bravo.example", "Bravo", "analyst"),
        ("carol@charlie.example", "Charlie", "analyst"),
        ("rita@alpha.example", "Alpha", "reader"),
    ):
        assert run("user", "create", email, "--org", org, "--role", role, "--no-password").code == 0, email
    return run


def test_case_and_task_commands_work_a_case_and_keep_it_from_a_third_org(cli: Callable[..., Result]) -> None:
    made = cli("case", "create", "Port intrusion", "--as", "alice@alpha.example", "--participant", "Bravo")
    assert made.code == 0, made.err
    case_id = orjson.loads(made.out)["id"]
    task = cli(
        "task", "add", case_id, "Block at the edge", "--as", "alice@alpha.example", "--assignee", "bob@bravo.example"
    )
    assert task.code == 0, task.err
    task_id = task.out.strip()

    queue = cli("task", "list", "--mine", "--as", "bob@bravo.example")
    assert queue.code == 0
    assert task_id in queue.out
    assert "Block at the edge" in queue.out
    assert cli("task", "update", task_id, "--status", "doing", "--as", "bob@bravo.example").code == 0
    assert cli("task", "log", task_id, "blocked on fw-1", "--as", "bob@bravo.example").code == 0
    assert cli("case", "comment", case_id, "seen here too", "--as", "bob@bravo.example").code == 0
    shown = orjson.loads(cli("case", "show", case_id, "--as", "bob@bravo.example").out)
    assert shown["task_list"][0]["status"] == "doing"
    assert [e["kind"] for e in shown["timeline"]] == ["case.create", "task.create", "task.log", "task.log", "comment"]
    assert cli("case", "status", case_id, "resolved", "--reason", "done", "--as", "alice@alpha.example").code == 0
    assert case_id in cli("case", "list", "--as", "bob@bravo.example").out

    # Charlie: the case does not exist for it; the answers match a case that does not exist at all.
    missing = "x-accord-case--0e4b1c1e-9f7a-4d43-8a57-0f3b7e5b2c11"
    for args in (("case", "show", "{}"), ("case", "comment", "{}", "hi"), ("task", "add", "{}", "t")):
        real = cli(*(a.format(case_id) for a in args), "--as", "carol@charlie.example")
        absent = cli(*(a.format(missing) for a in args), "--as", "carol@charlie.example")
        assert real.code == absent.code == 2
        assert real.err.replace(case_id, "ID") == absent.err.replace(missing, "ID")
        assert real.err.count("\n") == 1
        assert "Traceback" not in real.err
    assert cli("case", "list", "--as", "carol@charlie.example").out == ""
    assert cli("task", "list", "--mine", "--as", "carol@charlie.example").out == ""


def test_cli_errors_are_one_line(cli: Callable[..., Result]) -> None:
    bad_tlp = cli("case", "create", "x", "--as", "alice@alpha.example", "--tlp", "red")
    assert bad_tlp.code == 2
    assert bad_tlp.err.startswith("accord: error: a case is TLP:CLEAR")
    reader = cli("case", "create", "x", "--as", "rita@alpha.example")
    assert reader.code != 0
    assert reader.err.count("\n") == 1
    assert "cannot write" in reader.err
    both = cli("task", "list", "--as", "alice@alpha.example")
    assert both.code != 0
    assert both.err == "accord: error: give --mine or --case ID\n"


def test_rfi_commands_ask_answer_and_close(cli: Callable[..., Result]) -> None:
    asked = cli(
        "rfi", "ask", "Seen 203.0.113.9?", "--to", "Bravo", "--value", "203.0.113.9", "--as", "alice@alpha.example"
    )
    assert asked.code == 0, asked.err
    rid = asked.out.strip()
    assert rid in cli("rfi", "list", "--as", "bob@bravo.example").out
    assert cli("rfi", "answer", rid, "not here", "--as", "bob@bravo.example").code == 0
    shown = orjson.loads(cli("rfi", "show", rid, "--as", "alice@alpha.example").out)
    assert shown["status"] == "answered"
    assert [a["content"] for a in shown["answers"]] == ["not here"]
    closed = cli("rfi", "close", rid, "--reason", "thanks", "--as", "alice@alpha.example")
    assert closed.out.strip() == f"{rid} is closed"
    hidden = cli("rfi", "show", rid, "--as", "carol@charlie.example")
    assert hidden.code == 2
    assert hidden.err == f"accord: error: no request {rid}\n"


def test_pir_commands_and_a_local_import_matched_on_ingest(cli: Callable[..., Result], tmp_path: Any) -> None:
    made = cli(
        "pir", "create", "Harbour threats", "--participant", "Bravo", "--keyword", "harbour", "--domain",
        "evil.example", "--as", "alice@alpha.example",
    )  # fmt: skip
    assert made.code == 0, made.err
    pid = made.out.strip()
    bravo = orjson.loads(cli("pir", "show", pid, "--as", "bob@bravo.example").out)
    assert bravo["criteria"]["keywords"] == ["harbour"]
    assert bravo["participants"] == ["Alpha", "Bravo"]
    report = {
        "type": "report",
        "spec_version": "2.1",
        "id": "report--6f0cbbe1-3a1e-4c4a-9d0e-5c3b1f1d2a10",
        "created": "2026-11-01T10:00:00.000Z",
        "modified": "2026-11-01T10:00:00.000Z",
        "name": "Phishing from login.evil.example",
        "published": "2026-11-01T10:00:00.000Z",
        "object_refs": ["note--0b5e2a55-0c1f-4b8e-8f5e-2d6f1c4b9a01"],
    }
    bundle = tmp_path / "b.json"
    bundle.write_bytes(orjson.dumps({"type": "bundle", "id": "bundle--1d0f4c55-3c5e-4f61-9a3e-6d2b1f7e8c02",
                                     "objects": [report]}))  # fmt: skip
    assert cli("import", str(bundle), "--as", "bob@bravo.example").code == 0
    # Bravo's own import (no collection) is Bravo's alone: it matched, Bravo reads it, Alpha does not.
    assert cli("pir", "matches", pid, "--as", "bob@bravo.example").out.split()[:2] == [report["id"], "evil.example"]
    assert cli("pir", "matches", pid, "--as", "alice@alpha.example").out == ""
    assert pid in cli("pir", "list", "--as", "alice@alpha.example").out
    edited = cli("pir", "edit", pid, "--status", "inactive", "--as", "alice@alpha.example")
    assert edited.out.strip() == f"{pid} is inactive"
    not_owner = cli("pir", "edit", pid, "--title", "x", "--as", "bob@bravo.example")
    assert not_owner.err == "accord: error: only the owning organisation changes a requirement\n"
    hidden = cli("pir", "matches", pid, "--as", "carol@charlie.example")
    assert hidden.code == 2
    assert hidden.err == f"accord: error: no requirement {pid}\n"
    bad = cli("pir", "create", "x", "--technique", "phishing", "--as", "alice@alpha.example")
    assert bad.code == 2
    assert bad.err.count("\n") == 1


def test_a_case_bundle_from_another_node_imports_into_the_case_list(cli: Callable[..., Result], tmp_path) -> None:
    from accord.accounts import service as accounts
    from accord.core.db import get_engine
    from accord.joint import objects
    from accord.stix.markings import Tlp

    delta = "identity--7c1e9f7a-2b3d-4e5f-8a9b-0c1d2e3f4a5b"  # Delta's identity on its own node
    assert cli("org", "create", "Delta", "--remote-identity", delta).code == 0
    assert cli("user", "create", "imp@delta.example", "--org", "Delta", "--role", "analyst", "--no-password").code == 0
    made = cli("collection", "create", "From Delta", "--alias", "from-delta", "--read", "Bravo", "--read", "Delta",
               "--write", "Delta")  # fmt: skip
    assert made.code == 0, made.err
    with get_engine().connect() as conn:
        bravo = accounts.get_org_by_name_or_raise(conn, "Bravo").stix_id
    cid, ts = objects.new_id(objects.CASE_TYPE), "2026-11-01T10:00:00.000Z"
    fields = {"name": "Exported case", "description": "", "severity": "low", "priority": "low", "status": "open",
              "status_reason": "", "participant_refs": [delta, bravo], "assignees": [], "labels": [],
              "object_refs": [], "tlp": int(Tlp.AMBER)}  # fmt: skip
    case = objects.case_object(stix_id=cid, owner_ref=delta, created=ts, modified=ts, fields=fields)
    note = objects.note_object(owner_ref=delta, at=ts, author="dana@delta.example", content="exported", refs=[cid],
                               tlp=Tlp.AMBER)  # fmt: skip
    bundle = tmp_path / "case.json"
    bundle.write_bytes(orjson.dumps({"type": "bundle", "id": f"bundle--{cid[15:]}", "objects": [note, case]}))
    done = cli("import", str(bundle), "--collection", "from-delta", "--as", "imp@delta.example")
    assert done.code == 0, done.err

    listed = cli("case", "list", "--as", "bob@bravo.example")
    assert listed.code == 0, listed.err
    assert cid in listed.out
    shown = cli("case", "show", cid, "--as", "bob@bravo.example")
    assert shown.code == 0, shown.err
    assert "Exported case" in shown.out
    assert "dana@delta.example" in shown.out  # the comment, in the timeline, by its author
    hidden = cli("case", "show", cid, "--as", "carol@charlie.example")
    assert hidden.code != 0
