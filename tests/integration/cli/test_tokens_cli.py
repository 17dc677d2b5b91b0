"""`accord token list [EMAIL]` and `accord token revoke` with the prefix as listed."""

from __future__ import annotations

from sqlalchemy import update

from accord.core.db import get_engine
from accord.models.accounts import api_token


def test_list_shows_prefixes_never_secrets_and_revoke_takes_them_as_listed(cli) -> None:
    assert cli("org", "create", "Alpha").code == 0
    for email in ("a@alpha.example", "b@alpha.example"):
        assert cli("user", "create", email, "--org", "Alpha", "--role", "analyst", "--no-password").code == 0
    first = cli("token", "create", "a@alpha.example", "--read-only", "--expires-days", "7").out.strip()
    second = cli("token", "create", "b@alpha.example").out.strip()
    listed = cli("token", "list")
    assert listed.code == 0
    assert first not in listed.out
    assert second not in listed.out
    lines = [line.split("\t") for line in listed.out.strip().splitlines()]
    shown = {cols[1]: cols for cols in lines}
    assert shown["a@alpha.example"][0] == first[: len("acc_") + 8]
    assert shown["a@alpha.example"][4:] == ["never used", "read-only", "active"]
    assert shown["b@alpha.example"][3] == "never"
    with get_engine().begin() as conn:
        conn.execute(
            update(api_token).where(api_token.c.prefix == second[4:12]).values(last_used_us=1_796_644_800_000_000)
        )
    assert cli("token", "list", "b@alpha.example").out.split("\t")[4] == "used 2026-12-07T12:00Z"
    only_b = cli("token", "list", "b@alpha.example").out.strip().splitlines()
    assert len(only_b) == 1
    assert "b@alpha.example" in only_b[0]

    prefix = shown["a@alpha.example"][0]  # acc_xxxxxxxx, as listed
    assert cli("token", "revoke", prefix).code == 0
    assert cli("token", "list", "a@alpha.example").out.strip().split("\t")[-1].startswith("revoked ")
    again = cli("token", "revoke", prefix)
    assert again.code != 0
    assert "no active token" in again.err
    assert cli("token", "revoke", second[4:12]).code == 0  # the hex part still works
    nobody = cli("token", "list", "nobody@alpha.example")
    assert nobody.code != 0
    assert nobody.err.count("\n") == 1
