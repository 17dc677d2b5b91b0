"""Dashboard, report page, extraction review to publish, and administration, in a real browser."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, ALICE, BOB, Console, csp_violations, sign_in

REPORT_TEXT = (
    "Phishing wave seen on 2026-11-30.\n"
    "The actor used hxxps://login-wave[.]ru/a.php and 198.51.100[.]23 (a documentation address).\n"
    "Second stage from payload-wave[.]ru; see CVE-2021-44228."
)


def test_dashboard_draws_its_charts_from_readable_counts(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    assert page.locator("h1").inner_text() == "Dashboard"
    page.wait_for_load_state("networkidle")
    drawn = page.evaluate(
        "() => ['chart-received', 'chart-sightings'].map((id) => !!window.Chart.getChart(document.getElementById(id)))"
    )
    assert drawn == [True, True]
    totals = dict(row.locator("td").all_inner_texts() for row in page.locator("table.compact tbody tr").all())
    assert int(totals["CERT Alpha"]) > 0
    # per collection: only collections Bob's organisation may read, never another organisation's internal one
    per_collection = dict(row.locator("td").all_inner_texts() for row in page.locator("#per-collection tbody tr").all())
    assert int(per_collection["Alliance shared intelligence"]) > 0
    assert not any(title.endswith(" internal") and not title.startswith("SOC Bravo") for title in per_collection)
    assert page.locator("#top-values h2").inner_text() == "Top correlated values"
    assert page.locator("#health").count() == 0  # link health is for node admins
    assert csp_violations(page) == []


def test_admin_dashboard_shows_link_health(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ADMIN)
    assert page.locator("#health h2").inner_text() == "Feed and peer health"


def test_report_page_groups_its_objects_and_exports(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    report_id = console.xss_ids[3]
    page.goto(f"{console.url}/reports/{report_id}")
    groups = page.locator("#contents h3").all_inner_texts()
    assert [g.split()[0] for g in groups] == ["indicator", "malware", "relationship"]
    with page.expect_download() as download:
        page.click("text=Export as STIX bundle")
    assert download.value.suggested_filename == f"{report_id}.bundle.json"
    assert csp_violations(page) == []


def test_extraction_review_untick_and_publish(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    page.click("header nav >> text=Extract")
    page.fill("#title", "Phishing wave")
    page.fill("#text", REPORT_TEXT)
    page.click("form.extract-form button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    marks = page.locator("mark.hit").all_inner_texts()
    assert "hxxps://login-wave[.]ru/a.php" in marks
    assert "payload-wave[.]ru" in marks
    rows = {r.locator("td.mono").inner_text(): r for r in page.locator("#findings tbody tr").all()}
    assert not rows["198.51.100.23"].locator("input").is_checked()  # a documentation address starts unticked
    rows["payload-wave.ru"].locator("input").uncheck()  # a false positive, say
    page.select_option("#publish-collection", "alpha-internal")
    page.click("text=Publish the ticked findings")
    page.wait_for_url(re.compile(r".*/extract/drafts/.*stored=\d+"))
    assert "published" in page.locator("p .pill").inner_text()
    draft_url = page.url.split("?")[0]
    # what was published is searchable; what was unticked is not
    page.goto(f"{console.url}/search?q=login-wave.ru%0Apayload-wave.ru")
    cards = {c.locator("h3 .mono").inner_text(): c for c in page.locator("section.lookup").all()}
    assert cards["login-wave.ru"].locator("tbody tr").count() >= 1
    assert "Nothing you may read holds this value." in cards["payload-wave.ru"].inner_text()
    # another organisation sees neither the draft nor what went into Alpha's internal collection
    page.click("form.signout button")
    sign_in(page, console, BOB)
    assert page.goto(draft_url).status == 404  # type: ignore[union-attr]
    page.goto(f"{console.url}/search?q=login-wave.ru")
    assert "Nothing you may read holds this value." in page.locator("section.lookup").first.inner_text()


def test_admin_grants_a_collection_and_verifies_the_audit_log(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    assert page.request.get(f"{console.url}/admin").status == 403
    assert page.request.get(f"{console.url}/admin/audit").status == 403
    page.click("form.signout button")
    sign_in(page, console, ADMIN)
    page.click("header nav >> text=Admin")
    assert "CERT Alpha" in page.locator("main").inner_text()
    page.goto(f"{console.url}/admin/collections")
    row = page.locator("tr[data-alias='alpha-internal']")
    assert "SOC Bravo" not in row.locator(".readers").inner_text()
    page.select_option("#grant-alias", "alpha-internal")
    page.fill("#grant-who", "SOC Bravo")
    page.select_option("#grant-mode", "read")
    page.click("button[value=grant]")
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("tr[data-alias='alpha-internal'] .readers")).to_contain_text("SOC Bravo")
    page.click("nav.subnav >> text=Audit log")  # the admin pages' own navigation
    page.click("text=Verify the hash chain")
    expect(page.locator("#verification")).to_contain_text("The chain is intact")
    while page.locator("a[rel=next]").count():
        page.click("a[rel=next]")
    assert "collection.grant" in page.locator("#audit").inner_text()
    # revoke it again, so other tests see the demo's grants
    page.goto(f"{console.url}/admin/collections")
    page.select_option("#grant-alias", "alpha-internal")
    page.fill("#grant-who", "SOC Bravo")
    page.click("button[value=revoke]")
    page.wait_for_load_state("domcontentloaded")
    assert "SOC Bravo" not in page.locator("tr[data-alias='alpha-internal'] .readers").inner_text()
