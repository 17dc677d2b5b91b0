"""Admin verbs that take access away (and give it back): collection grants, group members, disabled users."""

from __future__ import annotations

from accord.accounts import service as accounts
from accord.accounts.credentials import Credentials
from accord.core.db import get_engine
from accord.sharing.repository import principal_for


def _readable(org: str) -> set[str]:
    with get_engine().connect() as conn:
        org_id = accounts.get_org_by_name_or_raise(conn, org).id
        ids = principal_for(conn, org_id=org_id, role="reader").readable_collections
        return {r.alias for r in accounts.list_collections(conn) if r.id in ids}


def test_grants_and_group_members_change_what_an_organisation_reads(cli) -> None:
    for name in ("Alpha", "Bravo", "Charlie"):
        assert cli("org", "create", name).code == 0
    assert cli("group", "create", "Pact", "--org", "Alpha").code == 0
    assert cli("collection", "create", "Intel", "--alias", "intel", "--read", "Alpha", "--write", "Alpha").code == 0
    assert cli("collection", "create", "Pact", "--alias", "pact", "--read", "Pact", "--write", "Alpha").code == 0
    assert _readable("Bravo") == set()

    done = cli("collection", "grant", "intel", "--read", "Bravo", "--write", "Bravo")
    assert (done.code, done.out.strip()) == (0, "granted 2 grants on intel")
    assert cli("collection", "grant", "intel", "--read", "Bravo").out.strip() == "granted 0 grants on intel"
    assert _readable("Bravo") == {"intel"}
    assert cli("collection", "revoke", "intel", "--read", "Bravo").code == 0
    assert _readable("Bravo") == set()

    assert cli("group", "add", "Pact", "--org", "Bravo", "--org", "Charlie").out.strip() == (
        "added 2 organisations to Pact"
    )
    assert _readable("Charlie") == {"pact"}
    assert cli("group", "remove", "Pact", "--org", "Charlie").code == 0
    assert _readable("Charlie") == set()
    assert _readable("Bravo") == {"pact"}

    missing = cli("collection", "grant", "intel", "--read", "Nobody")
    assert missing.code != 0
    assert "Nobody" in missing.err


def test_a_disabled_user_cannot_authenticate_until_enabled(cli) -> None:
    assert cli("org", "create", "Alpha").code == 0
    assert cli("user", "create", "a@alpha.example", "--org", "Alpha", "--role", "analyst", "--no-password").code == 0
    token = cli("token", "create", "a@alpha.example").out.strip()

    def works() -> bool:
        with get_engine().connect() as conn:
            return accounts.authenticate(conn, Credentials(token=token)) is not None

    assert works()
    assert cli("user", "disable", "a@alpha.example").code == 0
    assert not works()  # at once: the service forgets remembered verifications
    assert cli("user", "enable", "a@alpha.example").code == 0
    assert works()
