"""Sign-in, sign-out, CSRF and session revocation in a real browser against a real `accord serve`."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import ALICE, BOB, Console, csp_violations, sign_in


def test_sign_in_shows_the_role_navigation_and_sets_a_strict_cookie(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    assert page.locator("header .who").inner_text().startswith(ALICE)
    # An analyst: joint work but no administration (a count of unread notifications may follow its label).
    labels = [text.split("\n")[0].rstrip(" 0123456789") for text in page.locator("header nav a").all_inner_texts()]
    assert labels == [
        "Home", "Search", "Cases", "My tasks", "Requests", "Requirements", "Notifications", "Extract", "Feeds",
        "My tokens", "API docs",
    ]  # fmt: skip
    [cookie] = [c for c in context.cookies() if c["name"] == "accord_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain http on loopback; Secure behind https
    assert page.evaluate("document.cookie") == ""  # no script can read either cookie
    assert csp_violations(page) == []


def test_wrong_password_is_refused_without_a_session(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE, password="not the password")
    assert page.locator("[role=alert]").inner_text() == "Wrong e-mail or password."
    assert not [c for c in context.cookies() if c["name"] == "accord_session"]
    page.goto(f"{console.url}/search")
    assert "/signin?next=%2Fsearch" in page.url


def test_a_page_asked_signed_out_comes_back_after_sign_in(console: Console, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{console.url}/tokens")
    assert "/signin" in page.url
    page.fill("#email", BOB)
    page.fill("#password", "accord-demo")
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/tokens$"))
    assert page.locator("h1").inner_text() == "My tokens"


def test_sign_out_revokes_the_session_everywhere(console: Console, context: Any, browser: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    [cookie] = [c for c in context.cookies() if c["name"] == "accord_session"]
    page.click("form.signout button")
    page.wait_for_url(re.compile(r".*/signin$"))
    # the old cookie, replayed from elsewhere, no longer opens anything (it is a revoked token)
    other = browser.new_context()
    other.add_cookies([cookie])
    replay = other.new_page()
    replay.goto(f"{console.url}/search")
    assert "/signin" in replay.url
    other.close()


def test_revoking_the_session_token_or_disabling_the_user_ends_the_session(console: Console, context: Any) -> None:
    console.cli(
        "user",
        "create",
        "carol@alpha.example",
        "--org",
        "CERT Alpha",
        "--role",
        "reader",
        "--password-stdin",
        stdin="carol's password 1\n",
    )
    page = context.new_page()
    sign_in(page, console, "carol@alpha.example", password="carol's password 1")
    page.goto(f"{console.url}/tokens")
    session_row = page.locator("tr", has=page.locator("text=this session"))
    session_row.locator("button", has_text="Revoke").click()
    page.wait_for_load_state("domcontentloaded")
    assert "/signin" in page.url  # the very next request has no session
    sign_in(page, console, "carol@alpha.example", password="carol's password 1")
    assert page.locator("header .who").count() == 1
    console.cli("user", "disable", "carol@alpha.example")
    page.goto(f"{console.url}/search")
    assert "/signin" in page.url


def test_a_form_without_its_csrf_value_is_refused(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    before = page.request.get(f"{console.url}/tokens").text().count("acc_")
    answer = page.request.post(f"{console.url}/tokens", form={"expires_days": "5"})
    assert answer.status == 403
    answer = page.request.post(f"{console.url}/tokens", form={"expires_days": "5", "csrf": "x" * 43})
    assert answer.status == 403
    assert page.request.get(f"{console.url}/tokens").text().count("acc_") == before  # nothing was created
    answer = page.request.post(f"{console.url}/signout", form={})
    assert answer.status == 403
