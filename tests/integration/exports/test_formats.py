"""Each format on the demo data: a golden file, and the format's own validator where one exists.

Golden files live in tests/integration/exports/golden/; after a deliberate change of a format, regenerate them
with ACCORD_UPDATE_GOLDEN=1 and review the diff. Scores are computed at the fixed instant NOW_US.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import orjson
import pytest

from accord.accounts import service as accounts
from accord.core.db import get_engine, read_transaction
from accord.demo.service import ADMIN_EMAIL
from accord.exports import service
from accord.exports.service import ExportRequest
from tests.integration.exports.conftest import NOW_US

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ACCORD_UPDATE_GOLDEN") == "1"


def _export(who: str, req: ExportRequest) -> bytes:
    with read_transaction(get_engine()) as conn:
        principal = accounts.principal_for_email(conn, who)
        prep = service.prepare(conn, principal, req, now_us=NOW_US)
        return b"".join(service.stream(conn, principal, prep))


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(text.encode())
    assert text == path.read_bytes().decode(), f"{name} differs from its golden file"


BLOB = "bob@bravo.example"


@pytest.mark.parametrize("kind", ["ip", "domain", "url", "md5", "sha256"])
def test_blocklist_golden(demo, kind):
    body = _export(BLOB, ExportRequest("blocklist", types=kind)).decode()
    lines = body.splitlines()
    assert lines, "the demo holds active values of every kind"
    assert len(lines) == len(set(lines))
    _golden(f"blocklist-{kind}.txt", body)


def test_blocklist_follows_min_score(demo):
    every = _export(BLOB, ExportRequest("blocklist", types="domain")).decode().splitlines()
    strong = _export(BLOB, ExportRequest("blocklist", types="domain", min_score=60)).decode().splitlines()
    assert set(strong) < set(every)


def test_csv_golden_and_rfc4180(demo):
    import csv
    import io

    body = _export(BLOB, ExportRequest("csv")).decode()
    assert "\r\n" in body
    assert "\n" not in body.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == ["value", "type", "first_seen", "last_seen", "score", "tlp", "owner", "labels", "source_report"]
    assert {r[1] for r in rows[1:]} >= {"ip", "domain", "url", "md5", "sha256"}
    assert all(r[6] == "SOC Bravo" for r in rows[1:] if r[5] in ("TLP:RED", "TLP:AMBER+STRICT"))  # only his own
    _golden("demo.csv", body)
    chosen = _export(BLOB, ExportRequest("csv", columns="value,tlp")).decode()
    assert chosen.splitlines()[0] == "value,tlp"


def _events(body: bytes) -> list[dict]:
    return orjson.loads(body)["response"]


def test_misp_events_load_in_pymisp_without_warnings(demo):
    from pymisp import MISPEvent

    described = MISPEvent().describe_types
    for group in ("report", "day"):
        events = _events(_export(BLOB, ExportRequest("misp", group=group)))
        assert events
        for doc in events:
            event = MISPEvent()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                event.load(doc)
            assert event.info
            assert event.uuid == doc["Event"]["uuid"]
            for attr in event.attributes:
                assert attr.type in described["types"]
                assert attr.type in described["category_type_mappings"][attr.category]


def test_misp_golden_and_to_ids(demo):
    events = _events(_export(BLOB, ExportRequest("misp", group="report")))
    assert len(events) == 12  # six GREEN reports of each demo organisation
    for doc in events:
        doc["Event"]["Orgc"]["uuid"] = "<org identity>"  # identities are made with random ids
    attrs = [a for doc in events for a in doc["Event"]["Attribute"]]
    assert any(a["to_ids"] for a in attrs)
    assert not all(a["to_ids"] for a in attrs)
    assert {t["name"] for a in attrs for t in a["Tag"]} <= {"tlp:clear", "tlp:green", "tlp:amber", "tlp:red"}
    assert all(doc["Event"]["Orgc"]["name"] == "SOC Bravo" for doc in events if "tlp:red" in str(doc))
    assert any(t["name"].startswith("misp-galaxy:threat-actor=") for d in events for t in d["Event"]["Tag"])
    _golden("misp-report-events.json", orjson.dumps(events, option=orjson.OPT_INDENT_2).decode())


def test_stix_report_golden_and_valid(demo):
    from stix2validator import ValidationOptions, validate_parsed_json

    report_id = "report--" + _first_report_uuid()
    bundle = orjson.loads(_export(BLOB, ExportRequest("stix", report=report_id)))
    result = validate_parsed_json(bundle, ValidationOptions(version="2.1", strict=False))
    assert result.is_valid, [str(e) for r in ([result] if not isinstance(result, list) else result) for e in r.errors]
    ids = sorted(f"{o['type']} {o['id']}" for o in bundle["objects"] if o["type"] != "identity")
    assert f"report {report_id}" in ids
    _golden("stix-report.txt", "\n".join(ids) + "\n")


def _first_report_uuid() -> str:
    from accord.demo.content import _id

    return _id("report", "alpha", 0).partition("--")[2]


@pytest.mark.skipif(
    importlib.util.find_spec("suricata_check") is None, reason="suricata-check (dev extra) is not installed"
)
def test_suricata_rules_golden_and_parsed_by_suricata_check(demo, caplog):
    from suricata_check._suricata_check import analyze_rule, is_valid_rule, parse

    body = _export(BLOB, ExportRequest("suricata")).decode()
    rules = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert len(rules) > 20
    sids = [int(re.search(r"sid:(\d+);", r).group(1)) for r in rules]
    assert len(sids) == len(set(sids))
    for rule in rules:
        parsed = parse(rule)
        assert parsed is not None, rule
        assert is_valid_rule(parsed), rule
        report = analyze_rule(parsed)
        serious = [i for i in report.issues if int(i.severity) > 20]  # INFO-level style advice only
        assert not serious, (rule, [(i.code, i.message) for i in serious])
    unknown = [r.getMessage() for r in caplog.records if "is not recognized" in r.getMessage()]
    # Custom metadata keys are allowed by Suricata; filemd5/filesha* are Suricata keywords suricata-check lacks.
    assert all(re.match(r"(Metadata option accord_id|Option file(md5|sha1|sha256)) ", m) for m in unknown), unknown
    _golden("demo.rules", body)


def test_suricata_sids_are_stable_and_rev_follows_versions(demo):
    first = _export(BLOB, ExportRequest("suricata")).decode()
    again = _export(BLOB, ExportRequest("suricata")).decode()
    assert first == again


@pytest.mark.skipif(shutil.which("named-checkzone") is None, reason="named-checkzone (Debian bind9-utils) is missing")
def test_rpz_golden_and_named_checkzone(demo, tmp_path):
    body = _export(BLOB, ExportRequest("rpz")).decode()
    zone = tmp_path / "rpz.zone"
    zone.write_text(body)
    run = subprocess.run(["named-checkzone", "rpz.accord", str(zone)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK" in run.stdout
    _golden("demo.rpz", re.sub(r"(SOA \S+ \S+ )\d+", r"\1<serial>", body))


def test_rpz_serial_increases_on_change(demo):
    from tests.integration.exports.secrets import plant

    def serial() -> int:
        body = _export(ADMIN_EMAIL, ExportRequest("rpz")).decode()
        return int(re.search(r"SOA \S+ \S+ (\d+)", body).group(1))

    before = serial()
    import time

    time.sleep(1.1)  # the serial counts seconds of the node clock
    plant()
    assert serial() > before


@pytest.mark.skipif(
    importlib.util.find_spec("suricata_check") is None, reason="suricata-check (dev extra) is not installed"
)
def test_suricata_rules_for_awkward_values_parse():
    from suricata_check._suricata_check import is_valid_rule, parse

    from accord.exports.source import Indicator, Value
    from accord.exports.suricata import rules

    values = [
        Value("ip", "2001:db8::1", 80.0, True, ()),
        Value("cidr", "10.20.0.0/16", 80.0, True, ()),
        Value("url", 'http://evil.example:8080/a;b"c|d\\e?x=1', 80.0, True, ()),
        Value("url", "https://[2001:db8::2]/p", 80.0, True, ()),
        Value("domain", "xn--bcher-kva.example", 80.0, True, ()),
        Value("domain", "inactive.example", 10.0, False, ()),
    ]
    item = Indicator(
        1, "indicator--00000000-0000-4000-8000-000000000001", 'odd "name"; with|pipes', 189_388_800, values
    )
    body = b"".join(rules([[item]])).decode()
    lines = [line for line in body.splitlines() if not line.startswith("#")]
    assert len(lines) == 2 + 2 + 1 + 1 + 2  # both directions per address, one rule per URL, DNS and TLS per domain
    assert "inactive" not in body
    for line in lines:
        parsed = parse(line)
        assert parsed is not None, line
        assert is_valid_rule(parsed), line
