"""The console's screenshots for the README (`make screenshots` sets ACCORD_SCREENSHOTS to docs/screenshots)."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser import casework
from tests.browser.conftest import ACCORD, ADMIN, ALICE, BOB, Console, csp_violations, sign_in

TARGET = os.environ.get("ACCORD_SCREENSHOTS")


@pytest.mark.skipif(not TARGET, reason="screenshots are taken by `make screenshots` (ACCORD_SCREENSHOTS=DIR)")
def test_take_screenshots(console: Console, context: Any) -> None:
    out = Path(TARGET or ".")
    out.mkdir(parents=True, exist_ok=True)
    page = context.new_page()

    def shot(name: str, path: str | None = None) -> None:
        if path is not None:
            page.goto(console.url + path)
        page.wait_for_load_state("networkidle")
        assert csp_violations(page) == []
        page.screenshot(path=str(out / f"{name}.png"))

    shot("signin", "/signin")
    sign_in(page, console, ALICE)
    shot("dashboard", "/")
    shot("search", "/search?q=" + quote("203.0.113[.]77\nhxxp://xss-payload[.]example/x\n194.31.59[.]204"))
    shot("search-text", "/search?text=family&type=malware&tlp=green&collection=shared")
    shot("object", f"/objects/{console.hub_id}")
    shot("report", "/search?type=report&text=campaign")  # a demo report (the XSS fixtures also hold reports)
    report = page.locator("table.list tbody td a").first.get_attribute("href") or ""
    shot("report", report.replace("/objects/", "/reports/"))
    page.goto(f"{console.url}/extract")
    page.fill("#title", "Phishing wave, November")
    page.fill(
        "#text",
        "The actor sent mail from hxxps://login-mail-secure[.]ru/owa/ and 45.155.205[.]12.\n"
        "The dropper (sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08) calls home to\n"
        "cdn-update-check[.]com over 443; 8.8.8.8 was used for DNS. See CVE-2023-23397.",
    )
    page.click("form.extract-form button[type=submit]")
    shot("extract")
    shot("tokens", "/tokens")
    _feeds(console)
    shot("feeds", "/feeds")
    _requirement(page, console)
    shot("pir")
    _cases(page, console)
    shot("cases", "/cases")
    shot("case", page.locator("#cases a", has_text="Phishing wave against energy providers").get_attribute("href"))
    page.click("form.signout button")
    sign_in(page, console, ADMIN)
    shot("admin", "/admin")
    shot("admin-collections", "/admin/collections")
    shot("audit", "/admin/audit?check=true")
    shot("api-docs", "/api/v1/docs")


def _feeds(console: Console) -> None:
    """Two feeds of CERT Alpha into `shared`: one pulled from a local blocklist, one whose server is
    down, so that the page shows a healthy feed and a failing one."""
    from tests.e2e.nodes import free_port

    served = console.home / "feeds"
    served.mkdir(exist_ok=True)
    (served / "blocklist.txt").write_text("# botnet C2\n45.155.205.12\n185.220.101.4\nbad-updates.example\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local = dataclasses.replace(console, env={**console.env, "ACCORD_FEEDS_ALLOW_PRIVATE": "1"})
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/blocklist.txt"
        local.cli(
            "feed",
            "add",
            "abuse-blocklist",
            "--url",
            url,
            "--format",
            "text",
            "--collection",
            "shared",
            "--org",
            "CERT Alpha",
        )
        down = f"http://127.0.0.1:{free_port()}/iocs.csv"
        local.cli(
            "feed",
            "add",
            "partner-csv",
            "--url",
            down,
            "--format",
            "csv",
            "--collection",
            "shared",
            "--org",
            "CERT Alpha",
        )
        local.cli("feed", "pull", "abuse-blocklist")
        # the second pull fails (nothing listens there): the CLI says so and exits non-zero, the page shows it
        subprocess.run(
            [ACCORD, "feed", "pull", "partner-csv"], env=local.env, capture_output=True, timeout=120, check=False
        )
    finally:
        server.shutdown()
        server.server_close()


def _requirement(page: Any, console: Console) -> None:
    """A requirement shared with SOC Bravo that the demo's malware families match; its page once the backfill of
    stored content (a job of the node's worker) has listed the matches."""
    page.goto(f"{console.url}/pirs")
    page.fill("#pir-title", "Loader families hitting energy providers")
    page.fill("#pir-description", "Which loader families target the sector, and over which infrastructure?")
    page.fill("#pir-participants", "SOC Bravo")
    page.fill("#pir-names", "GhostLoader, StealWorm")
    page.fill("#pir-keywords", "loader, dropper")
    page.fill("#pir-sectors", "energy")
    page.fill("#pir-domains", "login-mail-secure.ru")
    page.click("#new-pir button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    deadline = time.monotonic() + 60
    while "(0 you may read)" in page.content() and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()


def _cases(page: Any, console: Console) -> None:
    """A few cases, one of them worked on by CERT Alpha and SOC Bravo together."""
    casework.open_case(page, console, "Ransomware note shared by a hospital", "Ransom note and two hashes.", "green")
    casework.open_case(page, console, "Credential stuffing against webmail", "", "clear")
    case_id = casework.open_case(
        page,
        console,
        "Phishing wave against energy providers",
        "Mails from login-mail-secure[.]ru since Monday; the dropper calls home to cdn-update-check[.]com.",
    )
    casework.add_participant(page, "SOC Bravo")
    page.fill("#link-ids", console.hub_id)
    page.click("#links button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    page.fill("#task-assignee", BOB)
    casework.add_task(page, "Check the C2 in proxy logs")
    casework.add_task(page, "Write the customer advisory")
    casework.comment(page, "Proxy logs requested from both sites.")
    casework.sign_in_as(page, console, BOB)
    page.goto(f"{console.url}/cases/{case_id}")
    row = page.locator("#tasks tbody tr", has_text="Check the C2 in proxy logs")
    row.locator("select[name=status]").select_option("doing")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")
    casework.comment(page, "Seen here too: three hosts beaconing to the C2.")
    casework.sign_in_as(page, console, ALICE)
