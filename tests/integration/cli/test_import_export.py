"""`accord import` / `accord export` as a user runs them: round trips, summaries, and malformed input."""

from __future__ import annotations

import gzip
import json
import uuid

import orjson
import pytest
from sqlalchemy import func, select

from accord.core.db import get_engine
from accord.models.objects import stix_object
from tests.builders import bundle, make_indicator, make_ipv4, make_malware, ts


def _count() -> int:
    with get_engine().connect() as c:
        return c.execute(select(func.count()).select_from(stix_object)).scalar_one()


def test_round_trip_export_equals_latest_versions(cli, tmp_path):
    a = make_indicator(created=ts(1))
    a2 = {**a, "modified": ts(9), "name": "revised"}
    m = make_malware()
    ip = make_ipv4("203.0.113.9")
    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(bundle(a, a2, m, ip)))
    before = _count()
    r = cli("import", str(src))
    assert r.code == 0, r.err
    assert "stored 4, duplicates 0, refused 0" in r.out
    out = tmp_path / "out.json"
    assert cli("export", "--format", "stix", "-o", str(out)).code == 0
    exported = {o["id"]: o for o in orjson.loads(out.read_bytes())["objects"]}
    for obj in (a2, m, ip):
        assert exported[obj["id"]] == obj
    assert _count() == before + 4
    all_out = tmp_path / "all.json"
    assert cli("export", "--all-versions", "-o", str(all_out)).code == 0
    versions = [o for o in orjson.loads(all_out.read_bytes())["objects"] if o["id"] == a["id"]]
    assert sorted(v["modified"] for v in versions) == [a["modified"], a2["modified"]]


def test_gzip_directories_and_rerun_is_idempotent(cli, tmp_path):
    d = tmp_path / "bundles"
    d.mkdir()
    objs = [make_indicator() for _ in range(5)]
    (d / "a.json").write_bytes(orjson.dumps(bundle(*objs[:2])))
    with gzip.open(d / "b.json.gz", "wb") as fh:
        fh.write(orjson.dumps(bundle(*objs[2:])))
    (d / "notes.txt").write_text("ignored")
    assert "stored 5, duplicates 0" in cli("import", str(d)).out
    again = cli("import", str(d))
    assert again.code == 0
    assert "stored 0, duplicates 5, refused 0" in again.out


def test_stdin(cli, tmp_path, monkeypatch):
    import io
    import sys

    data = orjson.dumps(bundle(make_indicator()))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    r = cli("import", "-")
    assert r.code == 0, r.err
    assert "stored 1" in r.out


def _good() -> dict:
    return make_indicator()


def _deep(depth: int) -> dict:
    node: dict = {"leaf": 1}
    for _ in range(depth):
        node = {"x": node}
    return node


PER_OBJECT = {
    "spec 2.0 object": ({**_good(), "spec_version": "2.0"}, "spec_version"),
    "no spec_version": ({k: v for k, v in _good().items() if k != "spec_version"}, "spec_version"),
    "id not a uuid": ({**_good(), "id": "indicator--1234"}, "id"),
    "id type mismatch": ({**_good(), "id": f"malware--{uuid.uuid4()}"}, "type"),
    "bad timestamp": ({**_good(), "created": "yesterday"}, "created"),
    "modified before created": ({**_good(), "created": ts(50), "modified": ts(10)}, "modified"),
    "bad pattern": ({**_good(), "pattern": "[ipv4-addr:value = '1.2.3.4'"}, "pattern"),
    "wrong SCO id": ({**make_ipv4("192.0.2.1"), "value": "192.0.2.99"}, "deterministic"),
    "2 MB description": ({**_good(), "description": "A" * 2_000_000}, "limit"),
    "deeply nested": ({**_good(), "x_nested": _deep(100)}, "nest"),
    "missing type": ({k: v for k, v in _good().items() if k != "type"}, "type"),
    "missing pattern": ({k: v for k, v in _good().items() if k != "pattern"}, "pattern"),
    "created_by_ref not an id": ({**_good(), "created_by_ref": "ACME"}, "created_by_ref"),
    "object is a string": ("indicator", "object"),
    "bad marking ref": ({**_good(), "object_marking_refs": ["tlp:red"]}, "object_marking_refs"),
    "NUL character": ({**_good(), "name": "nul \u0000 here"}, "NUL character"),
}


@pytest.mark.parametrize("case", sorted(PER_OBJECT))
def test_malformed_object_is_refused_with_reason_and_rest_stored(cli, tmp_path, case):
    bad, words = PER_OBJECT[case]
    good = _good()
    src = tmp_path / "mixed.json"
    src.write_bytes(orjson.dumps(bundle(good, bad)))
    before = _count()
    r = cli("import", str(src))
    assert r.code == 0, r.err
    assert "stored 1, duplicates 0, refused 1" in r.out
    assert words.lower() in r.out.lower(), r.out
    assert _count() == before + 1


FILE_LEVEL = {
    "truncated JSON": (lambda: orjson.dumps(bundle(_good()))[:-7], "not valid JSON"),
    "truncated after good objects": (
        lambda: orjson.dumps(bundle(*[_good() for _ in range(30)]))[:-900],
        "not valid JSON",
    ),
    "not a bundle": (lambda: orjson.dumps(_good()), "not a STIX bundle"),
    "top-level array": (lambda: orjson.dumps([_good()]), "not a STIX bundle"),
    "STIX 2.0 bundle": (lambda: orjson.dumps({**bundle(_good()), "spec_version": "2.0"}), "2.0"),
    "objects not a list": (lambda: orjson.dumps({"type": "bundle", "id": "bundle--x", "objects": {}}), "list"),
    "non-UTF-8 bytes": (lambda: b'{"type":"bundle","objects":[{"type":"indicator","name":"\xff\xfe"}]}', "UTF-8"),
    "empty file": (lambda: b"", "not valid JSON"),
    "recursion bomb": (lambda: b'{"type":"bundle","objects":[' + b"[" * 5000 + b"]" * 5000 + b"]}", "JSON"),
    "broken gzip": (lambda: gzip.compress(orjson.dumps(bundle(_good())))[:-20], "unreadable"),
}


@pytest.mark.parametrize("spans", [False, True], ids=["whole", "spans"])
@pytest.mark.parametrize("case", sorted(FILE_LEVEL))
def test_unreadable_input_is_one_line_error_and_stores_nothing(cli, tmp_path, monkeypatch, case, spans):
    """Also through the parallel import (forced for small files, with tiny spans), where objects of spans
    that parsed are written before the broken part is reached: the file's savepoint takes them back."""
    if spans:
        from accord.core import settings as core_settings
        from accord.store import parallel

        monkeypatch.setattr(parallel, "MIN_BYTES", 0)
        monkeypatch.setattr(parallel, "SPAN_BYTES", 64)
        monkeypatch.setenv("ACCORD_IMPORT_BATCH_SIZE", "4")  # batches are written before the break is reached
        core_settings.get_settings.cache_clear()
    make, words = FILE_LEVEL[case]
    good_file = tmp_path / "good.json"
    good_file.write_bytes(orjson.dumps(bundle(_good())))
    bad_file = tmp_path / ("bad.json.gz" if "gzip" in case else "bad.json")
    bad_file.write_bytes(make())
    before = _count()
    r = cli("import", str(good_file), str(bad_file))
    assert r.code != 0
    lines = [line for line in r.err.splitlines() if line.startswith("accord: error:")]
    assert len(lines) == 1, r.err
    assert words.lower() in r.err.lower(), r.err
    assert "nothing from this input was stored" in r.err
    assert "Traceback" not in r.err
    assert _count() == before + 1  # the good file is kept, the bad one left nothing behind


def test_nothing_valid_exits_non_zero(cli, tmp_path):
    src = tmp_path / "empty.json"
    src.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": []}))
    r = cli("import", str(src))
    assert r.code == 1
    assert "no valid STIX objects" in r.err


def test_missing_path_and_unknown_collection_are_one_line_errors(cli, tmp_path):
    r = cli("import", str(tmp_path / "nope.json"))
    assert r.code != 0
    assert r.err.strip().startswith("accord: error:")
    assert "no such file" in r.err
    src = tmp_path / "a.json"
    src.write_bytes(orjson.dumps(bundle(_good())))
    r = cli("import", str(src), "--collection", "nope")
    assert r.code != 0
    assert "no collection 'nope'" in r.err


def test_parallel_import_keeps_the_versioning_rules_across_batches(cli, tmp_path, monkeypatch):
    """Files big enough for worker processes (forced here with a tiny threshold and batch) follow the same rules."""
    from accord.core import settings as core_settings
    from accord.models.correlate import value_index
    from accord.store import parallel

    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setenv("ACCORD_IMPORT_BATCH_SIZE", "64")
    core_settings.get_settings.cache_clear()
    firsts = [make_indicator(created=ts(i)) for i in range(300)]
    seconds = [{**o, "modified": ts(50_000 + i), "name": "second"} for i, o in enumerate(firsts[:50])]
    duplicates = firsts[100:120]
    invalid = [{**make_indicator(), "pattern": "[ipv4-addr:value = "} for _ in range(10)]
    conflicting = [{**o, "name": "changed body, same version"} for o in firsts[200:205]]
    # Second versions come before their firsts, later batches repeat and contradict earlier ones.
    objects = seconds + firsts + duplicates + invalid + conflicting
    src = tmp_path / "big.json"
    src.write_bytes(orjson.dumps(bundle(*objects)))
    r = cli("import", str(src))
    assert r.code == 0, r.err
    assert "stored 350, duplicates 20, refused 15" in r.out
    ids = {o["id"] for o in firsts}
    o = stix_object.c
    with get_engine().connect() as c:
        rows = c.execute(select(o.seq, o.id, o.version, o.is_latest).where(o.id.in_(ids))).all()
        keys = {
            (r.key, r.object_seq)
            for r in c.execute(select(value_index.c.key, value_index.c.object_seq).where(value_index.c.kind == "ip"))
        }
    latest = {r.id: r for r in rows if r.is_latest}
    assert len(rows) == 350
    assert len(latest) == 300
    newest = {oid: max(r.version for r in rows if r.id == oid) for oid in ids}
    assert all(latest[oid].version == newest[oid] for oid in ids)
    by_id = {obj["id"]: obj for obj in firsts}
    for row in rows:  # every stored version is in the value index under its own seq
        value = by_id[row.id]["pattern"].split("'")[1]
        assert (value, row.seq) in keys


@pytest.mark.postgresql("SQLite has no planner statistics to refresh")
def test_a_bulk_import_refreshes_planner_statistics_on_postgresql(cli, tmp_path, monkeypatch):
    from accord.store import repository as store_repo

    monkeypatch.setattr(store_repo, "ANALYZE_AFTER", 3)
    src = tmp_path / "in.json"
    src.write_bytes(orjson.dumps(bundle(*(make_indicator() for _ in range(3)))))
    assert cli("import", str(src)).code == 0
    with get_engine().connect() as c:
        analyzed = c.exec_driver_sql(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL AND relname IN "
            "('stix_object', 'collection_object', 'value_index')"
        ).scalars()
        assert set(analyzed) == {"stix_object", "collection_object", "value_index"}
