"""A RED object of CERT Alpha: its owner's analysts see it; SOC Bravo's see none of it anywhere in the console."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.browser import content
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
