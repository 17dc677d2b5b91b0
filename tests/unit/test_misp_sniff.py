"""`accord import` tells MISP event files from STIX bundles without parsing a bundle twice."""

from __future__ import annotations

from pathlib import Path

import orjson

from accord.exports.imports import sniff_misp


def test_a_stix_bundle_is_not_taken_for_misp(tmp_path: Path):
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps({"type": "bundle", "id": "bundle--1", "objects": [{"name": "Event"}]}))
    assert sniff_misp(path) is None


def test_misp_events_are_found_however_the_key_is_spelled(tmp_path: Path):
    plain, escaped = tmp_path / "plain.json", tmp_path / "escaped.json"
    plain.write_bytes(b'{"Event": {"info": "x", "Attribute": []}}')
    escaped.write_bytes(b'{"\\u0045vent": {"info": "x", "Attribute": []}}')
    assert sniff_misp(plain) == [{"Event": {"info": "x", "Attribute": []}}]
    assert sniff_misp(escaped) == [{"Event": {"info": "x", "Attribute": []}}]


def test_a_file_that_is_not_json_is_no_misp(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_bytes(b'{"Event": ')
    assert sniff_misp(path) is None
