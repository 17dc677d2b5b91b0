"""axe-core (from npm, never served by the node) on every console page: no serious or critical violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import casework
from tests.browser.conftest import ADMIN, ALICE, ASSETS, BOB, Console, sign_in

AXE = ASSETS / "axe-core" / "axe.min.js"


def _violations(page: Any) -> list[str]:
    # evaluate() runs through the debugging protocol, which the page's content policy does not govern
    page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


PAGES = ["/", "/search", "/search?q=203.0.113.77", "/tokens", "/extract", "/api/v1/docs"]
PAGES += ["/cases", "/tasks", "/rfis", "/notifications", "/pirs", "/feeds", "/search?text=hub&collection=shared"]
PAGES += ["/search?since=yesterday", "/no-such-page"]  # error pages
ADMIN_PAGES = ["/", "/admin", "/admin/collections", "/admin/audit?check=true", "/feeds"]


def test_sign_in_page(console: Console, context: Any) -> None:
    page = context.new_page()
    page.goto(f"{console.url}/signin")
    assert _violations(page) == []


@pytest.mark.parametrize("path", PAGES)
def test_signed_in_pages(console: Console, context: Any, path: str) -> None:
    page = context.new_page()
    sign_in(page, console, BOB, next_path=path.replace("?", "%3F").replace("=", "%3D"))
    page.goto(console.url + path)
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages(console: Console, context: Any, path: str) -> None:
    page = context.new_page()
    sign_in(page, console, ADMIN)
    page.goto(console.url + path)
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []


def test_object_report_and_draft_pages(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    for path in (f"/objects/{console.hub_id}", f"/objects/{console.xss_ids[0]}", f"/reports/{console.xss_ids[3]}"):
        page.goto(console.url + path)
        page.wait_for_load_state("networkidle")
        assert _violations(page) == [], path
    page.goto(f"{console.url}/extract")
    page.fill("#text", "C2 at hxxp://axe-check[.]ru/x and 203.0.113[.]5")
    page.click("form.extract-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert _violations(page) == [], "draft review"


def test_joint_work_pages(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    case_id = casework.open_case(page, console, "Axe check case", "Accessible forms")
    casework.add_participant(page, "SOC Bravo")
    page.fill("#task-assignee", BOB)
    casework.add_task(page, "Axe check task")
    casework.comment(page, "Axe check comment")
    rfi_id = casework.ask(page, console, "Axe check request", "Anything?", "SOC Bravo")
    for email in (ALICE, BOB):  # the owner's page has its status and participant forms; a participant's has not
        casework.sign_in_as(page, console, email)
        for path in ("/cases", f"/cases/{case_id}", "/tasks", f"/rfis/{rfi_id}", "/notifications"):
            page.goto(console.url + path)
            page.wait_for_load_state("networkidle")
            assert _violations(page) == [], f"{path} as {email}"
