"""A TLP:RED or unshared TLP:AMBER value of another organisation never appears in any export, for any caller."""

from __future__ import annotations

import pytest

from accord.accounts import service as accounts
from accord.core.db import get_engine
from tests.integration.exports.secrets import AMBER, RED, plant, secret_values

# (format, query) pairs covering every format and the kinds the secrets hold.
EXPORTS = [
    *[("blocklist", f"type={kind}") for kind in ("ip", "domain", "url", "sha256")],
    ("csv", "columns=value,type,source_report,id"),
    ("misp", "group=report"),
    ("misp", "group=day"),
    ("suricata", ""),
    ("rpz", ""),
    ("stix", ""),
]


def _bodies(demo, who: str, *, member: bool = True) -> dict[str, str]:
    """Every export the caller gets; `member`: whether it reads the shared collection (else those are 404)."""
    out = {}
    for fmt, query in EXPORTS:
        r = demo.client.get(f"/api/v1/exports/{fmt}?{query}", headers=demo.auth(who))
        assert r.status_code == 200, (fmt, r.text)
        out[f"{fmt}?{query}"] = r.text
    report = demo.client.get(
        "/api/v1/exports/stix?report=report--0c3f3d1e-7f55-4c1b-9e57-5d1f1f1a0001", headers=demo.auth(who)
    )
    assert report.status_code == (200 if member else 404)
    out["stix report"] = report.text
    manifest = demo.client.get("/api/v1/exports/misp-feed/shared/manifest.json", headers=demo.auth(who))
    assert manifest.status_code == (200 if member else 404)
    if not member:
        return out
    for event in manifest.json():
        r = demo.client.get(f"/api/v1/exports/misp-feed/shared/{event}.json", headers=demo.auth(who))
        assert r.status_code == 200
        out[f"feed {event}"] = r.text
    return out


@pytest.fixture
def planted(demo):
    plant()
    with get_engine().begin() as conn:
        accounts.create_org(conn, "Charlie", actor="test")
        accounts.create_user(conn, "carol@charlie.example", "Charlie", "reader", None)
        demo.tokens["carol"] = accounts.create_token(conn, "carol@charlie.example")
    return demo


def test_other_orgs_never_receive_red_or_unshared_amber(planted):
    for who in ("bob", "carol"):
        for name, body in _bodies(planted, who, member=who == "bob").items():
            leaked = [v for v in secret_values() if v in body]
            assert not leaked, f"{who} received {leaked} in {name}"


def test_the_owner_and_the_admin_do_receive_them(planted):
    # The same exports carry the values to whoever may read them: the test above is not vacuous.
    for who in ("alice", "admin"):
        bodies = _bodies(planted, who)
        for kind in ("ip", "domain", "url", "sha256"):
            assert RED[kind] in bodies[f"blocklist?type={kind}"].splitlines()
            assert AMBER[kind] in bodies[f"blocklist?type={kind}"].splitlines()
        for name in ("csv?columns=value,type,source_report,id", "misp?group=day", "stix?"):
            assert all(v in bodies[name] for v in secret_values()), (who, name)
        assert RED["domain"] in bodies["rpz?"]
        assert RED["domain"] in bodies["suricata?"]
        assert RED["ip"] in bodies["stix report"]


def test_a_report_event_names_only_what_the_caller_may_read(planted):
    r = planted.client.get(
        "/api/v1/exports/misp?report=report--0c3f3d1e-7f55-4c1b-9e57-5d1f1f1a0001", headers=planted.auth("bob")
    )
    assert r.status_code == 200
    (event,) = r.json()["response"]
    assert event["Event"]["info"] == "Alpha secret campaign"  # the GREEN report itself is Bob's to read
    assert event["Event"]["Attribute"] == []
    mine = planted.client.get(
        "/api/v1/exports/misp?report=report--0c3f3d1e-7f55-4c1b-9e57-5d1f1f1a0001", headers=planted.auth("alice")
    )
    values = {a["value"] for a in mine.json()["response"][0]["Event"]["Attribute"]}
    assert values == set(secret_values())
