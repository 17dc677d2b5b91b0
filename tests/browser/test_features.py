"""Search by words and filters, TLP at publish, feed and peer health, creating organisations and users,
intelligence requirements, HTML error pages, and a navigation that fits one line."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ACCORD, ADMIN, ALICE, BOB, Console, csp_violations, sign_in
from tests.browser.content import RED_NAME
from tests.browser.test_axe import _violations


def _titles(page: Any) -> list[str]:
    return page.locator("table.list tbody td:first-child a").all_inner_texts()


def test_search_by_words_and_filters(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    page.goto(f"{console.url}/search")
    page.fill("#text", "crown jewels")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert RED_NAME in _titles(page)  # Alpha's own RED indicator
    # a prefix, a type and a TLP filter
    page.goto(f"{console.url}/search?text=jewel*&type=indicator&tlp=red")
    assert _titles(page) == [RED_NAME]
    page.goto(f"{console.url}/search?text=jewel*&type=malware")
    assert _titles(page) == []
    # the collection, owner and time filters, with the form showing what was asked
    page.goto(f"{console.url}/search?text=hub&collection=shared&owner=CERT+Alpha&since=2000-01-01&until=2999-12-31")
    assert "Hub indicator" in _titles(page)
    assert page.locator("#collection").input_value() == "shared"
    assert page.locator("#owner").input_value() == "CERT Alpha"
    page.goto(f"{console.url}/search?text=hub&owner=SOC+Bravo")
    assert _titles(page) == []
    page.goto(f"{console.url}/search?text=hub&until=2000-01-01")
    assert _titles(page) == []
    assert csp_violations(page) == []


def test_search_pages_by_keyset_with_words(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/search?text=family&type=malware")  # the star bundle's 50 malware ("Family N")
    seen: list[str] = []
    while True:
        seen += [a.get_attribute("href") or "" for a in page.locator("table.list tbody td:first-child a").all()]
        older = page.locator("a[rel=next]")
        if older.count() == 0:
            break
        assert "text=family" in (older.get_attribute("href") or "")  # the next page keeps the query
        older.click()
        page.wait_for_load_state("domcontentloaded")
    assert len(seen) == len(set(seen)) >= 50


def test_another_organisation_never_finds_a_red_object(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    for query in ("text=crown+jewels", "text=jewel*", "text=crown&tlp=red", "text=alpha+only&owner=CERT+Alpha"):
        page.goto(f"{console.url}/search?{query}")
        assert RED_NAME not in page.locator("main").inner_text(), query
        assert page.locator("table.list tbody td:first-child a").count() == 0, query
    # nor through the REST search (the same service)
    r = page.request.get(f"{console.url}/api/v1/search?q=crown")
    assert r.status == 401  # the console's session is no API credential


def test_bad_search_input_answers_an_html_page(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    response = page.goto(f"{console.url}/search?text=hub&since=yesterday")
    assert response is not None
    assert response.status == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "Modified since" in page.locator("[role=alert]").inner_text()
    assert page.locator("#text").input_value() == "hub"  # the form is shown again with what was asked
    response = page.goto(f"{console.url}/search?before=forged")
    assert response is not None
    assert response.status == 400
    assert "before" in page.locator("[role=alert]").inner_text()


def test_publish_with_a_chosen_tlp(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    page.goto(f"{console.url}/extract")
    page.fill("#title", "Red wave")
    page.fill("#text", "The C2 was hxxps://tlp-choice-wave[.]ru/gate.php on 45.137.21[.]99.")
    page.click("form.extract-form button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    page.select_option("#publish-collection", "shared")
    page.select_option("#publish-tlp", "red")
    page.click("text=Publish the ticked findings")
    page.wait_for_url(re.compile(r".*/extract/drafts/.*stored=\d+"))
    assert "marked TLP:RED" in page.locator("#outcome").inner_text()
    page.goto(f"{console.url}/search?q=tlp-choice-wave.ru")
    card = page.locator("section.lookup").first
    assert card.locator("tbody tr").count() >= 1
    assert "TLP:RED" in card.inner_text()
    # RED, though published into a collection Bravo reads: Bravo finds nothing
    page.context.clear_cookies()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/search?q=tlp-choice-wave.ru")
    assert "Nothing you may read holds this value." in page.locator("section.lookup").first.inner_text()


def test_feeds_page_shows_health_to_everyone_concerned(console: Console, context: Any) -> None:
    name = "alpha-blocklist"
    if name not in console.cli("feed", "list"):
        console.cli(
            "feed", "add", name, "--url", "http://127.0.0.1:9/list.txt", "--format", "text",
            "--collection", "shared", "--org", "CERT Alpha",
        )  # fmt: skip
        # the pull fails (nothing listens there): an error the page reports
        subprocess.run([ACCORD, "feed", "pull", name], env=console.env, capture_output=True, timeout=120, check=False)
    page = context.new_page()
    sign_in(page, console, BOB)
    page.click("header nav >> text=Feeds")
    row = page.locator(f"#links tr[data-link='{name}']")
    expect(row).to_have_count(1)  # it fills a collection Bravo reads
    assert "error" in row.locator(".state").inner_text()
    assert row.locator(".error-text").inner_text() == "the last pull failed"  # not Alpha's error text
    assert "shared" in page.locator("#my-collections").inner_text()
    assert "alpha-internal" not in page.locator("#my-collections").inner_text()
    page.context.clear_cookies()
    sign_in(page, console, ALICE)
    page.goto(f"{console.url}/feeds")
    text = page.locator(f"#links tr[data-link='{name}'] .error-text").inner_text()
    assert text
    assert text != "the last pull failed"
    assert csp_violations(page) == []


def test_admin_creates_an_organisation_and_a_user(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ADMIN)
    page.click("header nav >> text=Admin")
    page.fill("#org-name", "CSIRT Delta")
    page.click("#new-org button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("#admin-created").inner_text() == "Organisation CSIRT Delta created."
    # the same name again: the form comes back with the reason (HTML, 409), nothing created twice
    page.fill("#org-name", "csirt delta")
    page.click("#new-org button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "already exists" in page.locator("#admin-error").inner_text()
    assert page.locator("#org-name").input_value() == "csirt delta"
    page.fill("#user-email", "dora@delta.example")
    page.select_option("#user-org", "CSIRT Delta")
    page.select_option("#user-role", "analyst")
    page.fill("#user-password", "short")
    page.click("#new-user button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "at least 8 characters" in page.locator("#admin-error").inner_text()
    assert page.locator("#user-email").input_value() == "dora@delta.example"
    page.fill("#user-password", "delta-password-1")
    page.click("#new-user button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator("#admin-created").inner_text() == "User dora@delta.example created."
    # the new user signs in and reads nothing of the community's yet
    page.context.clear_cookies()
    sign_in(page, console, "dora@delta.example", password="delta-password-1")
    assert page.locator("header .who").inner_text().startswith("dora@delta.example")
    page.goto(f"{console.url}/search?text=hub")
    assert _titles(page) == []
    assert console.cli("audit", "verify")  # the chain stays intact with the creations recorded in it


def test_requirements_list_create_and_matches(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    page.click("header nav >> text=Requirements")
    page.fill("#pir-title", "Loaders against energy providers")
    page.fill("#pir-description", "Which loaders hit the sector?")
    page.fill("#pir-participants", "SOC Bravo")
    page.fill("#pir-keywords", "pir-wave-keyword")
    page.click("#new-pir button[type=submit]")
    page.wait_for_url(re.compile(r".*/pirs/x-accord-pir--.*|.*/pirs/.*--.*"))
    pir_url = page.url
    assert "pir-wave-keyword" in page.locator("#criteria").inner_text()
    assert "SOC Bravo" in page.locator("#participants").inner_text()
    # new intelligence that matches: an indicator named with the keyword, published by Alpha
    page.goto(f"{console.url}/extract")
    page.fill("#title", "pir-wave-keyword report")
    page.fill("#text", "pir-wave-keyword: the C2 was hxxps://pir-match-wave[.]ru/a on 45.137.21[.]98.")
    page.click("form.extract-form button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    page.select_option("#publish-collection", "shared")
    page.click("text=Publish the ticked findings")
    page.wait_for_url(re.compile(r".*stored=\d+"))
    page.goto(pir_url)
    assert page.locator("#matches tbody td a").count() >= 1
    # a participant sees the requirement; the owner's organisation deactivates it
    page.context.clear_cookies()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/pirs")
    assert "Loaders against energy providers" in page.locator("#pirs").inner_text()
    page.goto(pir_url)
    assert page.locator("#matches tbody td a").count() >= 1
    assert page.locator("text=Deactivate").count() == 0
    assert _violations(page) == []
    # an empty requirement is refused with an HTML page that says why (never problem JSON)
    page.goto(f"{console.url}/pirs")
    page.fill("#pir-title", "Nothing asked")
    page.click("#new-pir button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "at least one criterion" in page.locator("#error-message").inner_text()
    assert page.locator("a", has_text="Back to the form").get_attribute("href") == "/pirs"
    assert csp_violations(page) == []


def test_console_errors_are_html_pages(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    for path, status in (("/admin", 403), ("/admin/audit", 403), ("/no-such-page", 404), ("/pirs?status=odd", 400)):
        response = page.goto(console.url + path)
        assert response is not None, path
        assert response.status == status, path
        assert response.headers["content-type"].startswith("text/html"), path
        assert page.locator("#error-message").inner_text(), path
        assert page.locator("header nav a").count() > 0  # still in the console, signed in
    # a form posted without its CSRF value: an HTML page, not JSON
    response = page.request.post(f"{console.url}/pirs", form={"title": "x"})
    assert response.status == 403
    assert response.headers["content-type"].startswith("text/html")
    # the API keeps answering problem JSON
    response = page.request.get(f"{console.url}/api/v1/objects/indicator--00000000-0000-4000-8000-000000000000")
    assert response.headers["content-type"].startswith("application/problem+json")


def test_every_role_navigation_fits_one_line_at_1280px(console: Console, context: Any) -> None:
    page = context.new_page()
    for who in (ALICE, ADMIN):  # the admin last: it goes on to the admin pages
        page.context.clear_cookies()
        sign_in(page, console, who)
        tops = {
            round(box["y"])
            for box in (a.bounding_box() for a in page.locator("header nav[aria-label=Main] a").all())
            if box
        }
        assert len(tops) == 1, who
        header = page.locator("header.top").bounding_box()
        assert header is not None
        assert header["height"] < 80, who
    # the admin pages are reached through one entry and its own sub-navigation
    page.goto(f"{console.url}/admin")
    page.click("nav.subnav >> text=Audit log")
    assert page.url.endswith("/admin/audit")
    assert page.locator("header nav a[aria-current=page]").inner_text() == "Admin"
