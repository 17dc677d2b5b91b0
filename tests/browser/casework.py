"""Joint work driven through the console's own forms: open a case, add a participant, tasks, comments, requests."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Console, sign_in

CAROL = "carol@charlie.example"  # analyst of a third organisation that takes part in nothing
CAROL_PASSWORD = "charlie-demo-password"
CHARLIE = "CERT Charlie"
_third: set[str] = set()


def third_organisation(console: Console) -> str:
    """A third organisation and its analyst on this node (created once per node); the analyst's e-mail."""
    if console.url not in _third:
        console.cli("org", "create", CHARLIE)
        console.cli(
            "user", "create", CAROL, "--org", CHARLIE, "--role", "analyst", "--password-stdin", stdin=CAROL_PASSWORD
        )
        _third.add(console.url)
    return CAROL


def sign_in_as(page: Any, console: Console, email: str) -> None:
    """Sign out whoever is signed in, then sign in as `email`."""
    page.context.clear_cookies()
    sign_in(page, console, email, CAROL_PASSWORD if email == CAROL else "accord-demo")


def open_case(page: Any, console: Console, title: str, description: str = "", tlp: str = "amber") -> str:
    """Open a case from the cases board; its id (the page it lands on)."""
    page.goto(f"{console.url}/cases")
    page.fill("#case-title", title)
    page.fill("#case-description", description)
    page.select_option("#case-tlp", tlp)
    page.click("#new-case button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/x-accord-case--[0-9a-f-]{36}$"))
    return str(page.url.rsplit("/", 1)[1])


def add_participant(page: Any, org: str) -> None:
    """On a case page of the owner: add an organisation."""
    page.fill("#add-orgs", org)
    page.click("#owner-participants button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


def add_task(page: Any, title: str) -> None:
    """On a case page: add a task."""
    page.fill("#task-title", title)
    page.click("#new-task button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


def comment(page: Any, text: str) -> None:
    """On a case page: comment."""
    page.fill("#comment-text", text)
    page.click("#comments button[type=submit]")
    page.wait_for_load_state("domcontentloaded")


def ask(page: Any, console: Console, title: str, question: str, to: str) -> str:
    """Ask a request from the requests page; its id."""
    page.goto(f"{console.url}/rfis")
    page.fill("#rfi-title", title)
    page.fill("#rfi-question", question)
    page.fill("#rfi-to", to)
    page.click("#ask button[type=submit]")
    page.wait_for_url(re.compile(r".*/rfis/x-accord-rfi--[0-9a-f-]{36}$"))
    return str(page.url.rsplit("/", 1)[1])


def answer(page: Any, text: str) -> None:
    """On a request page addressed to the user's organisation: answer."""
    page.fill("#answer-text", text)
    page.click("#answers button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
