"""Warninglisted values are flagged as they are imported and as they are exported."""

from __future__ import annotations

import orjson
import pytest

from accord.core import settings as core_settings
from tests.builders import bundle, make_indicator, make_ipv4

DNS = "List of known IPv4 public DNS resolvers"


@pytest.fixture
def objects(tmp_path):
    benign = make_indicator(value="8.8.8.8")
    scanner = make_ipv4("1.1.1.1")  # also a public resolver
    bad = make_indicator(value="91.92.109.2")
    path = tmp_path / "in.json"
    path.write_bytes(orjson.dumps(bundle(benign, scanner, bad)))
    return {"benign": benign, "scanner": scanner, "bad": bad, "path": path}


def test_import_names_the_objects_with_warninglisted_values(cli, objects):
    r = cli("import", str(objects["path"]))
    assert r.code == 0, r.err
    assert "stored 3, duplicates 0, refused 0" in r.out
    assert "warninglisted: 2 stored objects hold values on warninglists" in r.out
    assert f"{objects['benign']['id']}: on warninglists: 8.8.8.8 ({DNS}" in r.out
    assert objects["scanner"]["id"] in r.out
    assert objects["bad"]["id"] not in r.out


def test_only_the_configured_lists_flag(cli, objects, monkeypatch):
    monkeypatch.setenv("ACCORD_WARNINGLISTS", "rfc1918")
    core_settings.get_settings.cache_clear()
    r = cli("import", str(objects["path"]))
    assert r.code == 0, r.err
    assert "warninglisted" not in r.out


def _export(cli, tmp_path, *args):
    out = tmp_path / f"out{len(args)}{'-'.join(args)}.json"
    r = cli("export", "-o", str(out), *args)
    assert r.code == 0, r.err
    return {o["id"]: o for o in orjson.loads(out.read_bytes())["objects"]}, r.err


def test_export_reports_marks_or_omits(cli, objects, tmp_path):
    assert cli("import", str(objects["path"])).code == 0
    benign, bad = objects["benign"], objects["bad"]
    # Default: bodies exactly as stored, the flagged objects named on the side.
    reported, err = _export(cli, tmp_path)
    assert reported[benign["id"]] == benign
    assert reported[bad["id"]] == bad
    assert "warninglisted: 2 objects hold values on warninglists (written unchanged)" in err
    assert benign["id"] in err
    marked, err = _export(cli, tmp_path, "--warninglists", "mark")
    flags = marked[benign["id"]].pop("x_accord_warninglists")
    assert marked[benign["id"]] == benign
    assert flags[0]["kind"] == "ip"
    assert flags[0]["value"] == "8.8.8.8"
    assert DNS in flags[0]["warninglists"]
    assert "x_accord_warninglists" not in marked[bad["id"]]
    omitted, err = _export(cli, tmp_path, "--warninglists", "omit")
    assert set(omitted) & {benign["id"], objects["scanner"]["id"]} == set()
    assert bad["id"] in omitted
    assert "(left out)" in err


def test_an_unknown_mode_is_a_one_line_error(cli, tmp_path):
    r = cli("export", "-o", str(tmp_path / "x.json"), "--warninglists", "hide")
    assert r.code != 0
    assert "unknown --warninglists 'hide'" in r.err
    assert not (tmp_path / "x.json").exists()
