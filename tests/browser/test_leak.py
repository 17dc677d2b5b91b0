"""A RED object of CERT Alpha: its owner's analysts see it; SOC Bravo's see none of it anywhere in the console."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.browser import casework, content
from tests.browser.conftest import ALICE, BOB, Console, sign_in


def _visit_everything(page: Any, console: Console) -> str:
    """The HTML of every list, search and graph that could show the RED objects, and of their own pages."""
    paths = [
        "/",
        "/admin/collections",
        "/search",
        "/search?tlp=red",
        "/search?type=indicator",
        "/search?type=malware",
        "/search?type=relationship",
        "/search?q=" + quote(content.RED_VALUE),
    ]
    seen = []
    for path in paths:
        page.goto(console.url + path)
        page.wait_for_load_state("networkidle")
        seen.append(page.content())
        older = page.locator("a[rel=next]")
        while older.count():  # every page of the lists
            older.click()
            page.wait_for_load_state("domcontentloaded")
            seen.append(page.content())
            older = page.locator("a[rel=next]")
    for report in ("/reports/" + console.xss_ids[3],):
        page.goto(console.url + report)
        seen.append(page.content())
    return "\n".join(seen)


def _by_id(page: Any, console: Console, oid: str) -> list[tuple[int, str]]:
    """What the console answers about one id (its page, graph and download), with the id itself blanked out."""
    found = []
    for suffix in ("", "/graph.json", "/stix.json"):
        answer = page.request.get(f"{console.url}/objects/{oid}{suffix}")
        found.append((answer.status, answer.text().replace(oid, "ID")))
    return found


def test_red_objects_are_invisible_to_another_organisation(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    seen = _visit_everything(page, console)
    for needle in (content.RED_NAME, "Red malware family", *console.red_ids):
        assert needle not in seen
    # by id, every answer is the same as for an id that never existed (R7)
    for oid in console.red_ids:
        kind = oid.split("--")[0]
        never = _by_id(page, console, f"{kind}--00000000-0000-4000-8000-000000000000")
        assert [status for status, _ in never] == [404, 404, 404]
        assert _by_id(page, console, oid) == never


def test_red_objects_are_visible_to_their_owner(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    seen = _visit_everything(page, console)
    assert content.RED_NAME in seen
    assert "Red malware family" in seen
    assert all(status == 200 for oid in console.red_ids for status, _ in _by_id(page, console, oid))
    page.goto(f"{console.url}/objects/{console.red_ids[0]}")
    assert page.locator(".objhead .tlp").inner_text() == "TLP:RED"


SECRET_CASE = "Bravo and Alpha only: lateral movement at the port"
SECRET_TASK = "Pull the port's firewall logs"
SECRET_COMMENT = "The port's domain controller is compromised"
SECRET_RFI = "Port operators: seen 192.0.2.201?"


def _csrf(context: Any) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "accord_csrf")


def _joint_answers(page: Any, console: Console, case_id: str, rfi_id: str, task_id: str) -> list[tuple[int, str]]:
    """What the console answers, to reads and to writes, about one case, request and task; ids blanked out."""
    csrf = _csrf(page.context)
    answers = [page.request.get(f"{console.url}/cases/{case_id}"), page.request.get(f"{console.url}/rfis/{rfi_id}")]
    for path, form in (
        (f"/cases/{case_id}/comments", {"content": "hello"}),
        (f"/cases/{case_id}/tasks", {"title": "mine now"}),
        (f"/cases/{case_id}/links", {"object_ids": console.xss_ids[0]}),
        (f"/cases/{case_id}/status", {"status": "resolved", "reason": "x"}),
        (f"/cases/{case_id}/participants", {"add": "CERT Charlie"}),
        (f"/tasks/{task_id}/update", {"status": "done"}),
        (f"/rfis/{rfi_id}/answers", {"content": "hello"}),
        (f"/rfis/{rfi_id}/close", {"reason": "x"}),
    ):
        answers.append(page.request.post(console.url + path, form={**form, "csrf": csrf}, max_redirects=0))
    return [(a.status, a.text().replace(case_id, "ID").replace(rfi_id, "RID").replace(task_id, "TID")) for a in answers]


def test_a_case_is_invisible_to_an_organisation_outside_it(console: Console, context: Any) -> None:
    carol = casework.third_organisation(console)
    page = context.new_page()
    casework.sign_in_as(page, console, ALICE)
    case_id = casework.open_case(page, console, SECRET_CASE, "Details for participants only.")
    casework.add_participant(page, "SOC Bravo")
    page.fill("#task-assignee", BOB)
    casework.add_task(page, SECRET_TASK)
    task_id = page.locator("#tasks form.task-update").first.get_attribute("action").split("/")[2]
    casework.comment(page, SECRET_COMMENT)
    rfi_id = casework.ask(page, console, SECRET_RFI, "Anything?", "SOC Bravo")
    secrets = (SECRET_CASE, SECRET_TASK, SECRET_COMMENT, SECRET_RFI, case_id, rfi_id, task_id)
    paths = ["/", "/cases", "/cases?status=open", "/tasks", "/rfis", "/notifications", "/search?type=report"]
    # a participant sees it everywhere it should (so the checks below can fail) ...
    casework.sign_in_as(page, console, BOB)
    seen = []
    for path in ("/cases", f"/cases/{case_id}", "/tasks", "/rfis", "/notifications"):
        page.goto(console.url + path)
        seen.append(page.content())
    for needle in (SECRET_CASE, SECRET_TASK, SECRET_COMMENT, SECRET_RFI):
        assert needle in "\n".join(seen)
    # ... the third organisation's analyst sees none of it, on any page
    casework.sign_in_as(page, console, carol)
    seen = []
    for path in paths:
        page.goto(console.url + path)
        page.wait_for_load_state("networkidle")
        seen.append(page.content())
    for needle in secrets:
        assert needle not in "\n".join(seen)
    # by id, reads and writes answer exactly as for a case, request and task that never existed (R7, W3)
    never = _joint_answers(
        page,
        console,
        "x-accord-case--00000000-0000-4000-8000-000000000000",
        "x-accord-rfi--00000000-0000-4000-8000-000000000000",
        "x-accord-task--00000000-0000-4000-8000-000000000000",
    )
    assert [status for status, _ in never] == [404] * 10
    assert _joint_answers(page, console, case_id, rfi_id, task_id) == never
    # and none of those writes happened
    casework.sign_in_as(page, console, ALICE)
    page.goto(f"{console.url}/cases/{case_id}")
    assert "hello" not in page.locator("#comments").inner_text()
    assert page.locator("#participants").inner_text() == "CERT Alpha, SOC Bravo"
    assert page.locator("#case-status").inner_text() == "open"
