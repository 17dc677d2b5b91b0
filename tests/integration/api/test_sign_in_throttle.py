"""Sign-in throttling per (account, address) with growing delays (issue 23 item 1): the right password from another
address, and a valid token, are never refused because of failures elsewhere; bad tokens count against no account;
every 429 says when to retry; throttling is audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from accord.accounts.authentication import sign_in_delay
from accord.api.app import create_app
from accord.core.db import get_engine
from accord.core.settings import get_settings
from accord.models.accounts import login_failure
from tests.integration.api.conftest import PASSWORD, basic

ALICE = "alice@alpha.example"
FREE = 3
FIRST_DELAY = 60


@pytest.fixture(autouse=True)
def _small_throttle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ACCORD_LOGIN_MAX_FAILURES", str(FREE))
    monkeypatch.setenv("ACCORD_LOGIN_DELAY_SECONDS", str(FIRST_DELAY))
    monkeypatch.setenv("ACCORD_LOGIN_MAX_DELAY_SECONDS", "600")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _from(address: str) -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False, client=(address, 40000))


def _fail(client: TestClient, times: int, email: str = ALICE) -> None:
    for _ in range(times):
        assert client.get("/api/v1/me", headers=basic(email, "wrong-password")).status_code == 401


def _age_failures(seconds: float) -> None:
    """Move every recorded failure back in time, as if `seconds` had passed."""
    with get_engine().begin() as conn:
        conn.execute(update(login_failure).values(at_us=login_failure.c.at_us - int(seconds * 1_000_000)))


def test_delays_start_after_the_free_failures_and_grow(node):
    attacker = _from("203.0.113.7")
    _fail(attacker, FREE)
    refused = attacker.get("/api/v1/me", headers=basic(ALICE, PASSWORD))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert FIRST_DELAY - 5 <= int(refused.headers["Retry-After"]) <= FIRST_DELAY
    # a refusal while delayed is not one more failure: the delay is what it was
    again = attacker.get("/api/v1/me", headers=basic(ALICE, "wrong-password"))
    assert again.status_code == 429
    assert int(again.headers["Retry-After"]) <= FIRST_DELAY

    _age_failures(FIRST_DELAY + 1)  # the delay has passed: one more try is allowed, and it fails
    _fail(attacker, 1)
    longer = attacker.get("/api/v1/me", headers=basic(ALICE, PASSWORD))
    assert longer.status_code == 429
    assert FIRST_DELAY < int(longer.headers["Retry-After"]) <= 2 * FIRST_DELAY

    _age_failures(2 * FIRST_DELAY + 1)
    assert attacker.get("/api/v1/me", headers=basic(ALICE, PASSWORD)).status_code == 200


def test_the_right_password_from_another_address_is_never_refused(node):
    attacker = _from("203.0.113.7")
    _fail(attacker, FREE)
    assert attacker.get("/api/v1/me", headers=basic(ALICE, PASSWORD)).status_code == 429
    office = _from("198.51.100.20")
    r = office.get("/api/v1/me", headers=basic(ALICE, PASSWORD))
    assert r.status_code == 200
    assert r.json()["email"] == ALICE
    # other accounts from the attacker's address are not delayed either
    assert attacker.get("/api/v1/me", headers=basic("bob@bravo.example", PASSWORD)).status_code == 200


def test_a_valid_token_is_never_refused_from_a_throttled_address(node):
    attacker = _from("203.0.113.7")
    _fail(attacker, FREE)
    assert attacker.get("/api/v1/me", headers=basic(ALICE, PASSWORD)).status_code == 429
    for headers in (
        node.bearer("alice"),
        {"Authorization": f"Token {node.tokens['alice']}"},
        basic(ALICE, node.tokens["alice"]),
    ):
        r = attacker.get("/api/v1/me", headers=headers)
        assert r.status_code == 200, headers
        assert r.json()["email"] == ALICE


def test_unknown_and_revoked_tokens_count_against_no_account(node):
    client = _from("203.0.113.7")
    revoked = node.tokens["rita"]
    assert (
        node.client.delete(f"/api/v1/tokens/{revoked.split('_')[1]}", headers=node.bearer("admin")).status_code == 204
    )
    for _ in range(FREE + 3):
        for headers in (
            {"Authorization": "Bearer acc_deadbeef_not-a-token"},
            {"Authorization": f"Bearer {revoked}"},
            basic(ALICE, "acc_deadbeef_not-a-token"),
            basic("rita@alpha.example", revoked),
        ):
            assert client.get("/api/v1/me", headers=headers).status_code == 401
    with get_engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(login_failure)).scalar_one() == 0
    assert client.get("/api/v1/me", headers=basic(ALICE, PASSWORD)).status_code == 200
    assert client.get("/api/v1/me", headers=basic("rita@alpha.example", PASSWORD)).status_code == 200


def test_unknown_accounts_are_delayed_like_known_ones(node):
    attacker = _from("203.0.113.7")
    _fail(attacker, FREE, email="nobody@alpha.example")
    r = attacker.get("/api/v1/me", headers=basic("nobody@alpha.example", "wrong-password"))
    assert r.status_code == 429
    assert "Retry-After" in r.headers


def test_throttling_is_audited(node):
    attacker = _from("203.0.113.7")
    _fail(attacker, FREE)
    entries = node.client.get("/api/v1/audit?limit=1000", headers=node.bearer("admin")).json()["entries"]
    failures = [e for e in entries if e["action"] == "login.failure" and e["actor"] == ALICE]
    assert len(failures) == FREE
    assert all(e["detail"] == {"client": "203.0.113.7", "credential": "password"} for e in failures)
    throttles = [e for e in entries if e["action"] == "login.throttle"]
    assert [(e["actor"], e["detail"]["client"], e["detail"]["failures"]) for e in throttles] == [
        (ALICE, "203.0.113.7", FREE)
    ]
    assert throttles[0]["detail"]["delay_seconds"] == FIRST_DELAY


def test_delays_double_up_to_the_maximum():
    s = get_settings()
    delays = [sign_in_delay(n) for n in range(FREE + 6)]
    assert delays[:FREE] == [0.0] * FREE
    assert delays[FREE : FREE + 4] == [60.0, 120.0, 240.0, 480.0]
    assert delays[FREE + 4 :] == [s.login_max_delay_seconds] * 2
    assert sign_in_delay(10**9) == s.login_max_delay_seconds  # no overflow however many failures
