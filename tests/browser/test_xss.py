"""Stored XSS: objects whose every text field holds a payload are shown as text on every page, never run."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.browser import casework, content
from tests.browser.conftest import ADMIN, ALICE, BOB, Console, csp_violations, sign_in


def _pages(console: Console) -> list[str]:
    ids = console.xss_ids
    return [
        "/",
        "/search",
        "/search?type=indicator",
        "/search?type=malware&tlp=green",
        "/search?q=" + quote("xss-payload[.]example"),
        "/search?q=" + quote(content.PAYLOADS[1]),
        *(f"/objects/{oid}" for oid in ids),
        f"/reports/{ids[3]}",
        "/tokens",
        "/extract",
    ]


def _assert_inert(page: Any, where: str) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", f"a payload ran on {where}"
    assert csp_violations(page) == [], f"the content policy refused something on {where}"
    assert page.locator("a[href^='javascript:' i], a[href^='data:' i], iframe, img[src='x']").count() == 0, where


def test_payloads_are_shown_as_text_and_never_run(console: Console, context: Any) -> None:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for email in (ALICE, BOB):
        sign_in(page, console, email)
        for path in _pages(console):
            page.goto(console.url + path)
            page.wait_for_load_state("networkidle")
            _assert_inert(page, f"{path} as {email}")
        page.click("form.signout button")
    assert dialogs == []


def test_admin_pages_show_payload_names_as_text(console: Console, context: Any) -> None:
    console.cli("group", "create", content.PAYLOADS[1], "--org", "CERT Alpha")
    page = context.new_page()
    sign_in(page, console, ADMIN)
    for path in ("/", "/admin", "/admin/collections", "/admin/audit"):
        page.goto(console.url + path)
        page.wait_for_load_state("networkidle")
        _assert_inert(page, path)
    page.goto(f"{console.url}/admin")
    assert content.PAYLOADS[1] in page.locator("main").inner_text()


def test_an_extraction_draft_of_payloads_stays_inert(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    page.goto(f"{console.url}/extract")
    page.fill("#title", content.PAYLOADS[0])
    page.fill("#text", "\n".join(content.PAYLOADS) + "\nhxxp://xss-draft[.]ru/<script>window.__xss=10</script>")
    page.click("form.extract-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    _assert_inert(page, "the draft review")
    assert content.PAYLOADS[0] in page.locator("pre.extract-text").inner_text()


def test_the_indicator_page_shows_every_payload_verbatim(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/objects/{console.xss_ids[0]}")
    page.wait_for_load_state("networkidle")
    text = page.locator("table.props").inner_text()
    for payload in content.PAYLOADS:
        assert payload in text  # escaped, so the browser shows the characters themselves
    assert "javascript:window.__xss=8" in text  # an external reference's URL is text, not a link
    # clicking everything clickable in the properties runs nothing either
    for link in page.locator("table.props a").all():
        href = link.get_attribute("href") or ""
        assert href.startswith(("/objects/", "http://", "https://")), href
    page.locator("#graph").click()
    _assert_inert(page, "the indicator page")
    assert page.title().startswith(content.PAYLOADS[0])


def test_joint_work_pages_show_payloads_as_text(console: Console, context: Any) -> None:
    text = "\n".join(content.PAYLOADS)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, console, ALICE)
    case_id = casework.open_case(page, console, content.PAYLOADS[1] + " case", text)
    casework.add_participant(page, "SOC Bravo")
    page.fill("#task-assignee", BOB)
    casework.add_task(page, content.PAYLOADS[0] + " task")
    casework.comment(page, text)
    page.fill("#link-ids", "\n".join(console.xss_ids))
    page.click("#links button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    rfi_id = casework.ask(page, console, content.PAYLOADS[6], text, "SOC Bravo")
    casework.sign_in_as(page, console, BOB)
    page.goto(f"{console.url}/rfis/{rfi_id}")
    casework.answer(page, text)
    page.goto(f"{console.url}/cases/{case_id}")
    casework.comment(page, content.PAYLOADS[3])  # a notification for Alice whose summary holds a payload
    paths = ["/cases", f"/cases/{case_id}", "/tasks", "/rfis", f"/rfis/{rfi_id}", "/notifications"]
    for email in (BOB, ALICE):
        casework.sign_in_as(page, console, email)
        for path in paths:
            page.goto(console.url + path)
            page.wait_for_load_state("networkidle")
            _assert_inert(page, f"{path} as {email}")
    page.goto(f"{console.url}/cases/{case_id}")
    shown = page.locator("main").inner_text()
    for payload in content.PAYLOADS:
        assert payload in shown  # title, description, comment: escaped, so shown verbatim
    assert page.title().startswith(content.PAYLOADS[1])
    assert page.locator("#links a").count() == len(console.xss_ids)
    page.goto(f"{console.url}/rfis/{rfi_id}")
    assert content.PAYLOADS[7] in page.locator("#answers").inner_text()
    assert dialogs == []
