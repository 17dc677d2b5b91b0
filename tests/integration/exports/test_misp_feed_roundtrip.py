"""A collection exported as a MISP feed by a real `accord serve`, pulled back with `accord feed` (loopback)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import pytest

from accord.core.clock import now_us
from accord.stix.timestamps import micros_to_timestamp
from tests.e2e.nodes import TLPS, make_node

pytestmark = pytest.mark.e2e


def _indicator(path: str, value: str, tlp: str) -> dict:
    created = micros_to_timestamp(now_us() - 3_600_000_000)  # fresh: active, so MISP marks it to_ids
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": created,
        "name": f"{tlp} {value}",
        "pattern": f"[{path} = '{value}']",
        "pattern_type": "stix",
        "valid_from": created,
        "confidence": 90,
        "object_marking_refs": [TLPS[tlp]],
    }


def _observable(kind: str, value: str, tlp: str) -> dict:
    from accord.stix.ids import deterministic_sco_id

    obj = {"type": kind, "spec_version": "2.1", "value": value, "object_marking_refs": [TLPS[tlp]]}
    obj["id"] = deterministic_sco_id(obj)
    return obj


def _rows(node, alias: str) -> set[tuple[str, ...]]:
    out = node.cli(
        "export", "--format", "csv", "--collection", alias, "--columns", "value,type,tlp,indicator",
        "--as", "alice@alpha.example",
    ).stdout  # fmt: skip
    return {tuple(r) for r in list(csv.reader(io.StringIO(out, newline="")))[1:]}


def test_a_misp_feed_of_a_collection_comes_back_identical(tmp_path: Path):
    node = make_node(tmp_path, "A", "Alpha")
    node.env["ACCORD_FEEDS_ALLOW_PRIVATE"] = "1"  # the feed is this node itself, on loopback, which feeds refuse
    try:
        alice = node.user("alice@alpha.example", "Alpha", "analyst")
        for title, alias in (("Intel", "intel"), ("Mirror", "mirror")):
            node.cli("collection", "create", title, "--alias", alias, "--read", "Alpha", "--write", "Alpha")
        objects = [
            _indicator("domain-name:value", "roundtrip-c2.net", "green"),
            _indicator("ipv4-addr:value", "91.203.77.99", "amber"),
            _indicator("url:value", "http://roundtrip-drop.org/a.php", "clear"),
            _indicator("file:hashes.'SHA-256'", "c3" * 32, "green"),
            _indicator("file:hashes.MD5", "d4" * 16, "amber"),
            _observable("domain-name", "seen-only.org", "green"),
            _observable("ipv4-addr", "91.203.77.98", "amber"),
        ]
        bundle = tmp_path / "intel.json"
        bundle.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))
        node.cli("import", str(bundle), "--collection", "intel", "--as", "alice@alpha.example")
        node.start()
        node.cli(
            "feed", "add", "intel-back", "--url", f"{node.url}/api/v1/exports/misp-feed/intel/manifest.json",
            "--format", "misp", "--collection", "mirror", "--org", "Alpha",
            "--username", "alice@alpha.example", "--password-env", "FEED_SECRET", FEED_SECRET=alice,
        )  # fmt: skip
        pulled = node.cli("feed", "pull", "intel-back")
        assert "error" not in pulled.stdout.lower(), pulled.stdout
        original, mirrored = _rows(node, "intel"), _rows(node, "mirror")
        assert len(original) == 7
        assert mirrored == original  # values, types, TLP and indicator-ness
        again = node.cli("feed", "pull", "intel-back")  # the manifest's ETag: nothing new to fetch
        assert _rows(node, "mirror") == original, again.stdout
    finally:
        node.stop()
