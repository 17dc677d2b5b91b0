"""Joint work in the console: a case between two organisations from opening to resolution, and a request."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser import casework
from tests.browser.conftest import ALICE, BOB, Console, csp_violations


def _task_row(page: Any, title: str) -> Any:
    return page.locator("#tasks tbody tr", has_text=title)


def test_a_case_from_opening_to_resolution(console: Console, context: Any) -> None:
    page = context.new_page()
    # CERT Alpha's analyst opens a case, adds SOC Bravo and a task
    casework.sign_in_as(page, console, ALICE)
    case_id = casework.open_case(page, console, "Phishing wave against banks", "Mail from login-wave[.]ru")
    assert page.locator("#case-status").inner_text() == "open"
    assert page.locator("#participants").inner_text() == "CERT Alpha"
    casework.add_participant(page, "SOC Bravo")
    assert page.locator("#participants").inner_text() == "CERT Alpha, SOC Bravo"
    casework.add_task(page, "Check the C2 in proxy logs")
    assert _task_row(page, "Check the C2 in proxy logs").locator(".status").inner_text() == "todo"
    # SOC Bravo's analyst finds it on the board, comments and takes the task
    casework.sign_in_as(page, console, BOB)
    page.goto(f"{console.url}/cases?status=open")
    page.click("#cases >> text=Phishing wave against banks")
    assert page.url.endswith(case_id)
    assert page.locator("#owner-status, #owner-participants").count() == 0  # the owner's forms are the owner's
    casework.comment(page, "Seen here too: three hosts beaconing.")
    assert "Seen here too: three hosts beaconing." in page.locator("#comments").inner_text()
    row = _task_row(page, "Check the C2 in proxy logs")
    row.locator("select[name=status]").select_option("doing")
    row.locator("input[name=take]").check()
    row.locator("button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")
    row = _task_row(page, "Check the C2 in proxy logs")
    assert row.locator(".status").inner_text() == "doing"
    assert BOB in row.inner_text()
    page.goto(f"{console.url}/tasks")
    assert "Check the C2 in proxy logs" in page.locator("#my-tasks").inner_text()
    assert csp_violations(page) == []
    # the owner sees the comment in its notifications (the count is in the navigation), then resolves the case
    casework.sign_in_as(page, console, ALICE)
    page.goto(f"{console.url}/cases/{case_id}")
    assert int(page.locator("#badge-notifications").inner_text().split()[0]) >= 1
    page.click("header nav >> text=Notifications")
    entry = page.locator("#notifications tbody tr.unread", has_text="three hosts beaconing")
    assert entry.count() == 1
    entry.locator("a").click()
    assert page.url.endswith(case_id)
    page.select_option("#new-status", "resolved")
    page.fill("#status-reason", "Blocked at both proxies")
    page.click("#owner-status button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("#case-status").inner_text() == "resolved"
    timeline = page.locator("#timeline").inner_text()
    for expected in ("added SOC Bravo", "three hosts beaconing", "open -> resolved: Blocked at both proxies"):
        assert expected in timeline
    page.goto(f"{console.url}/cases?status=resolved")
    assert "Phishing wave against banks" in page.locator("#cases").inner_text()
    page.goto(f"{console.url}/cases?status=open")
    assert "Phishing wave against banks" not in page.locator("#cases").inner_text()
    # marking read empties the unread list and takes the count out of the navigation
    page.goto(f"{console.url}/notifications")
    page.click("#mark-all")
    page.goto(f"{console.url}/notifications?unread=true")
    assert page.locator("#notifications tbody tr.unread").count() == 0
    assert page.locator("#badge-notifications").count() == 0
    assert csp_violations(page) == []


def test_a_request_asked_and_answered(console: Console, context: Any) -> None:
    page = context.new_page()
    casework.sign_in_as(page, console, ALICE)
    rfi_id = casework.ask(page, console, "Who else sees 198.51.100.23?", "Any sightings this week?", "SOC Bravo")
    assert page.locator("#rfi-status").inner_text() == "open"
    assert page.locator("#answers form").count() == 0  # the asker does not answer its own request
    casework.sign_in_as(page, console, BOB)
    page.goto(f"{console.url}/rfis")
    page.click("#rfis >> text=Who else sees 198.51.100.23?")
    assert page.url.endswith(rfi_id)
    assert page.locator("#close").count() == 0  # closing is the asker's
    casework.answer(page, "Yes: two hosts on Tuesday.")
    assert page.locator("#rfi-status").inner_text() == "answered"
    casework.sign_in_as(page, console, ALICE)
    page.goto(f"{console.url}/notifications?unread=true")
    page.locator("#notifications tr", has_text="two hosts on Tuesday").locator("a").click()
    assert "Yes: two hosts on Tuesday." in page.locator("#answers").inner_text()
    page.fill("#close-reason", "answered")
    page.click("#close button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("#rfi-status").inner_text() == "closed"


def test_a_bad_form_is_a_precise_4xx(console: Console, context: Any) -> None:
    page = context.new_page()
    casework.sign_in_as(page, console, ALICE)
    case_id = casework.open_case(page, console, "Bad forms")
    page.select_option("#new-status", "resolved")  # resolving needs a reason
    with page.expect_response(lambda r: r.url.endswith("/status")) as answered:
        page.click("#owner-status button[type=submit]")
    assert answered.value.status == 400
    # an HTML page that says why, in the console's layout, never problem JSON
    assert answered.value.headers["content-type"].startswith("text/html")
    page.wait_for_load_state("domcontentloaded")
    assert "needs a reason" in page.locator("#error-message").inner_text()
    assert page.locator("a", has_text="Back to the form").get_attribute("href") == f"/cases/{case_id}"
    forged = page.request.post(f"{console.url}/cases/{case_id}/comments", form={"content": "x", "csrf": "forged"})
    assert forged.status == 403


def test_the_cases_board_pages_by_keyset_within_a_status(console: Console, context: Any) -> None:
    token = console.cli("token", "create", ALICE).strip().splitlines()[-1]
    api = {"authorization": f"Bearer {token}"}
    titles = [f"Paging case {n:02d}" for n in range(55)]
    with httpx.Client(base_url=console.url, headers=api, timeout=30) as client:
        for title in titles:
            assert client.post("/api/v1/cases", json={"title": title}).status_code == 201
    page = context.new_page()
    casework.sign_in_as(page, console, ALICE)
    page.goto(f"{console.url}/cases?status=open")
    assert page.locator("#cases tbody tr").count() == 50
    shown: list[str] = []
    while True:
        shown += page.locator("#cases tbody td:first-child a").all_inner_texts()
        older = page.locator("a[rel=next]")
        if not older.count():
            break
        older.click()
        page.wait_for_load_state("domcontentloaded")
    paged = [t for t in shown if t.startswith("Paging case ")]
    assert paged == sorted(titles, reverse=True)  # newest first, each once, across pages
    # the cursor is bound to the user and the status: another status's list refuses it
    cursor = page.url  # the last page followed
    older = f"{console.url}/cases?status=open&after="
    first = page.goto(f"{console.url}/cases?status=open")
    assert first is not None
    after = page.locator("a[rel=next]").get_attribute("href") or ""
    assert page.request.get(console.url + after.replace("status=open", "status=closed")).status == 400
    assert cursor.startswith(older)
