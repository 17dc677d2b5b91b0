"""`accord import` of MISP event JSON files and of CSV files of values with a column mapping."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.integration.cli.cli_runner import run_cli

RECENT = "1765000000"  # 2025-12-06
HOST = ("--read", "Host Organisation", "--write", "Host Organisation")


@pytest.fixture
def cli(db_url: str, capsys: Any, monkeypatch: pytest.MonkeyPatch):
    def run(*args: str):
        return run_cli(capsys, monkeypatch, *args)

    assert run("init").code == 0
    assert run("collection", "create", "Intel", "--alias", "intel", *HOST).code == 0
    return run


def _event(**extra: Any) -> dict:
    return {
        "Event": {
            "uuid": "6a1f4a8e-0000-4000-8000-000000000001",
            "info": "Imported phishing wave",
            "date": "2025-12-05",
            "timestamp": RECENT,
            "Orgc": {"name": "Some MISP org", "uuid": "6a1f4a8e-0000-4000-8000-0000000000aa"},
            "Tag": [{"name": "tlp:green"}],
            "Attribute": [
                {"uuid": "6a1f4a8e-0000-4000-8000-000000000002", "type": "domain", "category": "Network activity",
                 "value": "imported-phish.net", "to_ids": True, "timestamp": RECENT},
                {"uuid": "6a1f4a8e-0000-4000-8000-000000000003", "type": "ip-dst", "category": "Network activity",
                 "value": "91.203.77.50", "to_ids": False, "timestamp": RECENT, "Tag": [{"name": "tlp:amber"}]},
            ],
            **extra,
        }
    }  # fmt: skip


def _rows(cli) -> set[tuple[str, ...]]:
    r = cli("export", "--format", "csv", "--collection", "intel", "--columns", "value,type,tlp,indicator")
    assert r.code == 0, r.err
    return {tuple(row) for row in list(csv.reader(io.StringIO(r.out, newline="")))[1:]}


def test_a_misp_event_file_is_imported_as_the_feed_reader_converts_it(cli, tmp_path):
    path = tmp_path / "event.json"
    path.write_text(json.dumps(_event()))
    r = cli("import", str(path), "--collection", "intel")
    assert r.code == 0, r.err
    assert "stored 3, duplicates 2" in r.out  # the report, its indicator and observable; the TLP markings are known
    assert _rows(cli) == {
        ("imported-phish.net", "domain", "TLP:GREEN", "true"),
        ("91.203.77.50", "ip", "TLP:AMBER", "false"),
    }


def test_accord_s_own_misp_export_imports_back(cli, tmp_path):
    first = tmp_path / "event.json"
    first.write_text(json.dumps(_event()))
    assert cli("import", str(first), "--collection", "intel").code == 0
    exported = cli("export", "--format", "misp", "--group", "day", "--collection", "intel")
    assert exported.code == 0, exported.err
    assert cli("collection", "create", "Copy", "--alias", "copy", *HOST).code == 0
    again = tmp_path / "export.json"
    again.write_text(exported.out)
    r = cli("import", str(again), "--collection", "copy")
    assert r.code == 0, r.err
    copy = cli("export", "--format", "csv", "--collection", "copy", "--columns", "value,type,tlp")
    values = {tuple(row) for row in list(csv.reader(io.StringIO(copy.out, newline="")))[1:]}
    assert values == {("imported-phish.net", "domain", "TLP:GREEN"), ("91.203.77.50", "ip", "TLP:AMBER")}


def test_a_csv_of_values_with_a_column_mapping(cli, tmp_path):
    path = tmp_path / "values.csv"
    path.write_text("kind;value;why\ndomain;csv-phish.org;phishing kit\nip;91.203.77.60;c2\nurl;not a value;x\n")
    r = cli(
        "import", str(path), "--collection", "intel", "--csv-columns", "value=2,type=1,comment=3",
        "--delimiter", ";", "--skip-header", "--tlp", "green",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "stored 2, duplicates 0" in r.out
    assert "not a recognisable value" in r.err
    assert _rows(cli) == {("csv-phish.org", "domain", "TLP:GREEN", "true"), ("91.203.77.60", "ip", "TLP:GREEN", "true")}


@pytest.mark.parametrize(
    ("name", "content", "args", "message"),
    [
        ("bad.csv", "a,b\n", ("--csv-columns", "val=1"), "bad column mapping 'val=1'"),
        ("none.csv", "?,?\n", (), "no value recognised"),
        ("event.json", json.dumps({"Event": {"info": "no uuid"}}), (), "invalid MISP event"),
    ],
)
def test_bad_files_get_one_line_and_store_nothing(cli, tmp_path, name, content, args, message):
    path = tmp_path / name
    path.write_text(content)
    r = cli("import", str(path), "--collection", "intel", *args)
    assert r.code != 0
    assert message in r.err
    assert "Traceback" not in r.err
    assert _rows(cli) == set()


def test_accord_export_formats_and_their_errors(cli, tmp_path):
    path = tmp_path / "values.csv"
    path.write_text("cli-phish.org\n91.203.77.70\n")
    assert cli("import", str(path), "--collection", "intel").code == 0
    out = tmp_path / "domains.txt"
    r = cli("export", "--format", "blocklist", "--type", "domain", "-o", str(out))
    assert r.code == 0, r.err
    assert out.read_text() == "cli-phish.org\n"
    for args, message in [
        (("--format", "nope"), "unknown export format 'nope'"),
        (("--format", "blocklist"), "a blocklist holds one kind of value"),
        (("--format", "csv", "--collection", "missing"), "no collection 'missing'"),
    ]:
        bad = cli("export", *args)
        assert bad.code != 0
        assert message in bad.err
        assert len(bad.err.strip().splitlines()) == 1
