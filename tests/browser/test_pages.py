"""Search, the object page (graph, sightings, versions, raw STIX), my tokens and the offline API docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from playwright.sync_api import expect

from tests.browser.conftest import ALICE, BOB, Console, csp_violations, sign_in


def test_search_looks_up_many_defanged_values_at_once(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/search")
    page.fill("#q", "203.0.113[.]77\nhxxp://xss-payload[.]example/x\nnothing-here.example")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    cards = {c.locator("h3 .mono").inner_text(): c for c in page.locator("section.lookup").all()}
    # a URL is looked up as itself and as its host
    assert list(cards) == [
        "203.0.113.77",
        "http://xss-payload.example/x",
        "xss-payload.example",
        "nothing-here.example",
    ]
    assert cards["203.0.113.77"].get_by_role("link", name="Hub indicator").count() == 1
    assert "TLP:GREEN" in cards["203.0.113.77"].inner_text()
    assert cards["xss-payload.example"].locator("tbody tr").count() == 1
    assert "Nothing you may read holds this value." in cards["nothing-here.example"].inner_text()
    assert csp_violations(page) == []


def test_search_lists_pages_by_keyset_and_filters(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    page.goto(f"{console.url}/search?type=malware&tlp=green")
    seen: list[str] = []
    while True:
        rows = page.locator("table.list tbody tr")
        texts = rows.all_inner_texts()
        assert all("malware" in t and "TLP:GREEN" in t for t in texts)
        seen += [a.get_attribute("href") or "" for a in page.locator("table.list tbody td:first-child a").all()]
        older = page.locator("a[rel=next]")
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state("domcontentloaded")
    assert len(seen) == len(set(seen))  # no object twice across pages
    # the 50 GREEN malware of the star bundle and the payload malware, at least
    assert len(seen) >= 51
    assert len(seen) > 50  # so more than one page (50 a page) was walked


def test_object_page_expands_the_graph_on_click(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/objects/{console.hub_id}")
    assert page.locator("h1").inner_text() == "Hub indicator"
    assert page.locator(".objhead .tlp").inner_text() == "TLP:GREEN"
    graph = page.locator("#graph")
    expect(graph).to_have_attribute("data-nodes", "51")
    expect(graph).to_have_attribute("data-edges", "50")
    # a click on one neighbour adds its own neighbour (the tool it uses)
    x, y = page.evaluate("(id) => window.accordGraph.positionOf(id)", console.hub_neighbours[0])
    box = graph.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(graph).to_have_attribute("data-nodes", "52")
    expect(graph).to_have_attribute("data-edges", "51")
    assert csp_violations(page) == []


def test_a_sighting_is_added_in_one_click(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    target = console.hub_neighbours[1]
    page.goto(f"{console.url}/objects/{target}")
    assert "No sighting you may read." in page.locator("#sightings").inner_text()
    page.select_option("#sighting-collection", "shared")
    page.click("#sightings button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "sighted=1" in page.url
    assert page.locator("#sightings li").count() == 1
    # the same sighting through the REST API's read path
    found = page.request.get(f"{console.url}/objects/{target}/graph.json")
    assert found.ok


def test_versions_raw_view_and_download(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    oid = console.hub_id
    page.goto(f"{console.url}/objects/{oid}")
    assert page.locator("ol.versions > li").count() == 1
    page.click("details summary")
    raw = orjson.loads(page.locator("pre.raw").inner_text())
    assert raw["id"] == oid
    assert raw["name"] == "Hub indicator"
    with page.expect_download() as download:
        page.click("text=Download STIX")
    saved = orjson.loads(Path(download.value.path()).read_bytes())
    assert saved["id"] == oid
    assert "seq" not in saved


def test_unknown_object_is_a_not_found_page(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, ALICE)
    answer = page.goto(f"{console.url}/objects/{quote('indicator--00000000-0000-4000-8000-000000000000')}")
    assert answer is not None
    assert answer.status == 404
    assert page.locator("h1").inner_text() == "Not found"


def test_my_tokens_create_use_and_revoke(console: Console, context: Any) -> None:
    page = context.new_page()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/tokens")
    page.fill("#expires_days", "7")
    page.check("#read_only")
    page.click("form[action='/tokens'] button[type=submit]")
    token = page.locator("#new-token").inner_text().strip()
    assert re.fullmatch(r"acc_[0-9a-f]{8}_\S+", token)
    api = page.request.get(f"{console.url}/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert api.ok
    assert api.json()["email"] == BOB
    prefix = token.split("_")[1]
    row = page.locator("tr", has=page.locator(f"text=acc_{prefix}"))
    assert "read-only" in row.inner_text()
    assert "active" in row.inner_text()
    page.goto(f"{console.url}/tokens")
    assert page.locator("#new-token").count() == 0  # shown once
    page.locator("tr", has=page.locator(f"text=acc_{prefix}")).locator("button", has_text="Revoke").click()
    page.wait_for_load_state("domcontentloaded")
    assert "revoked" in page.locator("tr", has=page.locator(f"text=acc_{prefix}")).inner_text()
    api = page.request.get(f"{console.url}/api/v1/me", headers={"authorization": f"Bearer {token}"})
    assert api.status == 401


def test_another_users_token_cannot_be_revoked(console: Console, context: Any) -> None:
    alice_token = console.cli("token", "create", ALICE).strip().splitlines()[-1]
    prefix = alice_token.split("_")[1]
    page = context.new_page()
    sign_in(page, console, BOB)
    page.goto(f"{console.url}/tokens")
    csrf = page.locator("form[action='/tokens'] input[name=csrf]").get_attribute("value")
    answer = page.request.post(f"{console.url}/tokens/{prefix}/revoke", form={"csrf": csrf or ""})
    assert answer.status == 404
    api = page.request.get(f"{console.url}/api/v1/me", headers={"authorization": f"Bearer {alice_token}"})
    assert api.ok


def test_api_docs_render_offline_under_the_content_policy(console: Console, context: Any) -> None:
    page = context.new_page()
    answer = page.goto(f"{console.url}/api/v1/docs")
    assert answer is not None
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/lookup").count() >= 1
    assert context.outside == []
    assert csp_violations(page) == []
