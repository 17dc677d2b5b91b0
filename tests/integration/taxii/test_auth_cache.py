"""Remembered verifications: every change made through Accord, in any process of the node, takes effect on the
very next request (the credentials generation); changes made behind its back (direct SQL) once
CREDENTIAL_CACHE_SECONDS have passed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, update

from accord.accounts import credentials
from accord.accounts import service as accounts
from accord.core.clock import now_us
from accord.models.accounts import api_token, app_user
from accord.models.collections import collection_grant
from tests.builders import make_indicator
from tests.integration.taxii.conftest import TAXII_HEADERS, post_envelope


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(credentials.credential_cache, "clock", fake)
    credentials.credential_cache.clear()
    yield fake
    credentials.credential_cache.clear()


BOUND = credentials.CREDENTIAL_CACHE_SECONDS


def _prefix(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1].split("_")[1]


def test_token_revoked_by_another_process_stops_working_within_the_bound(client, community, engine, clock):
    alice = community.auth["alice"]
    assert client.get("/taxii2/", headers=alice).status_code == 200
    with engine.begin() as conn:  # not through the service: no in-process invalidation
        conn.execute(update(api_token).where(api_token.c.prefix == _prefix(alice)).values(revoked_us=now_us()))
    clock.advance(BOUND - 0.5)
    assert client.get("/taxii2/", headers=alice).status_code == 200  # still remembered: allowed by the bound
    clock.advance(1.0)
    assert client.get("/taxii2/", headers=alice).status_code == 401


def test_revocation_through_the_service_takes_effect_at_once(client, community, engine, clock):
    alice = community.auth["alice"]
    assert client.get("/taxii2/", headers=alice).status_code == 200
    with engine.begin() as conn:
        accounts.revoke_token(conn, _prefix(alice), actor="test")
    assert client.get("/taxii2/", headers=alice).status_code == 401


def test_expiry_is_exact_even_when_remembered(client, community, engine, clock):
    bob = community.auth["bob"]
    with engine.begin() as conn:
        conn.execute(update(api_token).where(api_token.c.prefix == _prefix(bob)).values(expires_us=now_us() + 400_000))
    assert client.get("/taxii2/", headers=bob).status_code == 200  # verified and remembered with its expiry
    time.sleep(0.45)  # wall-clock expiry; the cache's own clock has not moved
    assert client.get("/taxii2/", headers=bob).status_code == 401


def test_changed_role_is_not_served_stale_beyond_the_bound(client, community, engine, clock):
    alice = community.auth["alice"]
    url = community.url(community.shared, "objects/")
    assert post_envelope(client, alice, url, make_indicator()).status_code == 202
    with engine.begin() as conn:
        conn.execute(update(app_user).where(app_user.c.email == "alice@alpha.example").values(role="reader"))
    clock.advance(BOUND + 0.1)
    assert post_envelope(client, alice, url, make_indicator()).status_code == 403


def test_lost_grant_is_not_served_stale_beyond_the_bound(client, community, engine, clock):
    bob = community.auth["bob"]
    url = community.url(community.shared, "objects/")
    assert client.get(url, headers=bob).status_code == 200
    with engine.begin() as conn:
        conn.execute(
            delete(collection_grant).where(
                collection_grant.c.collection_id == community.shared.id,
                collection_grant.c.org_id == community.orgs["beta"].id,
            )
        )
    clock.advance(BOUND + 0.1)
    assert client.get(url, headers=bob).status_code == 404


def test_new_grant_through_the_service_is_seen_at_once(client, community, engine, clock):
    bob = community.auth["bob"]
    before = {c["alias"] for c in client.get("/taxii2/api/collections/", headers=bob).json()["collections"]}
    with engine.begin() as conn:
        accounts.create_collection(conn, "Fresh", "fresh", readers=["Beta"], writers=[], actor="test")
    after = {c["alias"] for c in client.get("/taxii2/api/collections/", headers=bob).json()["collections"]}
    assert after == before | {"fresh"}


def test_failed_logins_still_throttle_remembered_credentials(client, community, clock, monkeypatch):
    import base64

    from accord.core.settings import get_settings

    monkeypatch.setenv("ACCORD_LOGIN_MAX_FAILURES", "2")
    get_settings.cache_clear()

    def basic(secret: str) -> dict[str, str]:
        pair = base64.b64encode(f"alice@alpha.example:{secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}", **TAXII_HEADERS}

    assert client.get("/taxii2/", headers=basic("correct horse battery")).status_code == 200  # remembered
    wrong = {"Authorization": "Bearer acc_deadbeef_wrong", **TAXII_HEADERS}
    for _ in range(3):  # bad tokens count against no account
        assert client.get("/taxii2/", headers=wrong).status_code == 401
    assert client.get("/taxii2/", headers=basic("correct horse battery")).status_code == 200
    for _ in range(2):
        assert client.get("/taxii2/", headers=basic("wrong-password")).status_code == 401
    # the remembered password is checked against the throttle again: same account, same address
    refused = client.get("/taxii2/", headers=basic("correct horse battery"))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get("/taxii2/", headers=community.auth["alice"]).status_code == 200  # a valid token never is
    get_settings.cache_clear()


def test_remembered_entries_are_keyed_by_secret_not_by_user(client, community, clock):
    alice = community.auth["alice"]
    assert client.get("/taxii2/", headers=alice).status_code == 200
    forged = {"Authorization": alice["Authorization"][:-2] + "xx", **TAXII_HEADERS}
    assert client.get("/taxii2/", headers=forged).status_code == 401


def test_failed_logins_forget_only_what_they_throttle():
    # One client's wrong passwords must not send every other client's credentials back to the database.
    cache = credentials.CredentialCache(ttl=60)
    alice = credentials.Credentials(token="acc_a_secret", client="10.0.0.1")
    bob = credentials.Credentials(email="bob@beta.example", secret="pw", client="10.0.0.2")
    bob_elsewhere = credentials.Credentials(email="bob@beta.example", secret="pw", client="10.0.0.3")
    carol = credentials.Credentials(token="acc_c_secret", client="10.0.0.2")
    for i, creds in enumerate((alice, bob, bob_elsewhere, carol)):
        cache.remember(creds, f"principal-{i}", None)  # type: ignore[arg-type]
    cache.forget_subjects(credentials.Credentials(email="BOB@beta.example", secret="x", client="10.0.0.2").subjects())
    assert cache.recall(bob) is None  # same account, same address: re-checked
    assert cache.recall(bob_elsewhere) == "principal-2"  # same account from another address: not
    assert cache.recall(alice) == "principal-0"
    assert cache.recall(carol) == "principal-3"  # a token from the same address: not
    assert credentials.Credentials(token="acc_x_wrong", client="10.0.0.1").subjects() == ()


def _accord(db_url: str, *args: str) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env["ACCORD_DATABASE_URL"] = db_url
    done = subprocess.run(
        [str(Path(sys.executable).with_name("accord")), *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("change", ["revoke", "disable", "grant"])
def test_a_change_made_by_another_process_takes_effect_on_the_next_request(
    client, community, engine, db_url, clock, change
):
    """The CLI is another process: its change reaches this one's remembered verifications at once (no bound)."""
    alice, bob = community.auth["alice"], community.auth["bob"]
    url = community.url(community.shared, "objects/")
    assert client.get("/taxii2/", headers=alice).status_code == 200
    assert client.get(url, headers=bob).status_code == 200
    if change == "revoke":
        _accord(db_url, "token", "revoke", "acc_" + _prefix(alice))
        assert client.get("/taxii2/", headers=alice).status_code == 401
    elif change == "disable":
        _accord(db_url, "user", "disable", "alice@alpha.example")
        assert client.get("/taxii2/", headers=alice).status_code == 401
    else:
        _accord(db_url, "collection", "revoke", community.shared.alias, "--read", "Beta")
        assert client.get(url, headers=bob).status_code == 403  # Beta still writes it: it sees it, reads nothing
