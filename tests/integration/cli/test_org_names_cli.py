"""`accord org|group|user|collection` resolve a name however it is spelled; a duplicate is one line, not a trace."""

from __future__ import annotations

from accord.accounts import service as accounts
from accord.core.db import get_engine


def test_a_second_spelling_of_an_organisation_is_a_one_line_error(cli):
    assert cli("org", "create", "ÄRGER CERT").code == 0
    for spelling in ("ÄRGER CERT", "ärger cert"):
        r = cli("org", "create", spelling)
        assert r.code == 2
        assert (
            r.err
            == f"accord: error: organisation {spelling!r} already exists"
            + ("" if spelling == "ÄRGER CERT" else " (as 'ÄRGER CERT')")
            + "\n"
        )
    assert cli("org", "list").out.casefold().count("ärger cert") == 1


def test_users_groups_and_grants_name_the_one_organisation(cli):
    assert cli("org", "create", "ÄRGER CERT").code == 0
    assert (
        cli("user", "create", "u@aerger.example", "--org", "ärger cert", "--role", "analyst", "--no-password").code == 0
    )
    assert cli("group", "create", "Umlauts", "--org", "Ärger Cert").code == 0
    r = cli("collection", "create", "Ä", "--alias", "aerger", "--read", "ärger cert", "--write", "ÄRGER CERT")
    assert r.code == 0, r.err
    r = cli("group", "create", "umlauts")
    assert (r.code, r.err) == (2, "accord: error: sharing group 'umlauts' already exists (as 'Umlauts')\n")
    with get_engine().connect() as conn:
        [org] = [o for o in accounts.list_orgs(conn) if o.name == "ÄRGER CERT"]
        user = accounts.get_user_by_email_or_raise(conn, "u@aerger.example")
        collection = accounts.get_collection_by_alias_or_raise(conn, "aerger")
        assert user.org_id == org.id
        assert accounts.collection_grants(conn, collection.id) == {"read": ["ÄRGER CERT"], "write": ["ÄRGER CERT"]}
        assert dict(accounts.list_groups(conn))["Umlauts"] == ["ÄRGER CERT"]


def test_a_partner_record_takes_the_identity_it_has_on_its_own_node(cli):
    identity = "identity--3f6d2a1c-9b8e-4c7d-a5f4-2e1b0c9d8e7f"
    r = cli("org", "create", "Beta", "--remote-identity", identity)
    assert r.code == 0, r.err
    assert " ".join(r.out.split()) == f"created record of remote organisation Beta ({identity})"
    with get_engine().connect() as conn:
        row = accounts.get_org_by_identity(conn, identity)
        assert (row.name, row.is_remote) == ("Beta", True)
    again = cli("org", "create", "Beta again", "--remote-identity", identity)
    assert (again.code, again.err) == (1, f"accord: error: an organisation with identity {identity} already exists\n")
    bad = cli("org", "create", "Gamma", "--remote-identity", "indicator--3f6d2a1c-9b8e-4c7d-a5f4-2e1b0c9d8e7f")
    assert bad.code == 1
    assert bad.err.startswith("accord: error: --remote-identity")
    assert bad.err.count("\n") == 1
    with get_engine().connect() as conn:
        assert {o.name for o in accounts.list_orgs(conn)} >= {"Beta"}
        assert accounts.get_org_by_name(conn, "Gamma") is None
        assert accounts.get_org_by_name(conn, "Beta again") is None
