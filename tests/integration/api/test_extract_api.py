"""POST /api/v1/extract and the draft workflow as analysts use it: upload, review, publish, and the refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from stix2validator import validate_instance

from accord.accounts import service as accounts
from accord.core import settings as core_settings
from accord.core.db import get_engine
from accord.models.audit import audit_log
from tests.integration.documents import make_html, make_pdf
from tests.integration.feeds.server import FeedServer, serve

EXTRACT = "/api/v1/extract"
REPORT = (
    "FANCY BEAR campaign update\n\n"
    "APT28 used Mimikatz and a loader.dll dropper. The C2 was hxxps://cdn-update-check[.]com/a.js on "
    "194.165.16[.]47, and e-mail went to ops[@]evil-share[.]org.\n\n"
    "Hash 34896a68f812d810a485ed03241b4d419b1b673bd4755d05ad7853c1f76eb977 exploited CVE-2021-44228. "
    "Resolver 8.8.8.8 was also queried.\n"
)


def _upload(node, body: bytes, content_type: str, who: str = "alice", **params: str):
    headers = {**node.bearer(who), "Content-Type": content_type}
    return node.client.post(EXTRACT, content=body, headers=headers, params=params)


def _values(draft: dict) -> dict[str, dict]:
    return {f["value"]: f for f in draft["findings"]}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


def _assert_valid(bundle: dict) -> None:
    result = validate_instance(bundle)
    assert result.is_valid, [str(e) for e in result.errors]


def _identity(org_name: str) -> str:
    with get_engine().begin() as conn:
        return accounts.get_org_by_name_or_raise(conn, org_name).stix_id


@pytest.fixture
def shared(node):
    """Collection 'shared': Alpha and Bravo read, Alpha writes; Charlie (carol) reads nothing of it."""
    with get_engine().begin() as conn:
        accounts.create_org(conn, "Charlie", actor="test")
        accounts.create_user(conn, "carol@charlie.example", "Charlie", "analyst", None)
        accounts.create_collection(conn, "Shared", "shared", readers=["Alpha", "Bravo"], writers=["Alpha"])
        accounts.create_collection(conn, "Bravo only", "bravo-only", readers=["Bravo"], writers=["Bravo"])
        node.tokens["carol"] = accounts.create_token(conn, "carol@charlie.example")
        node.tokens["alice-ro"] = accounts.create_token(conn, "alice@alpha.example", read_only=True)
    return node


def test_text_upload_becomes_a_draft_with_fanged_findings_and_a_valid_bundle(node):
    r = _upload(node, REPORT.encode(), "text/plain; charset=utf-8")
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft"
    assert draft["title"] == "FANCY BEAR campaign update"
    found = _values(draft)
    assert found["194.165.16.47"]["type"] == "ipv4-addr"
    assert found["https://cdn-update-check.com/a.js"]["type"] == "url"
    assert found["ops@evil-share.org"]["type"] == "email-addr"
    ip = found["194.165.16.47"]
    assert REPORT[ip["start"] : ip["end"]] == "194.165.16[.]47"
    assert "194.165.16[.]47" in ip["context"]
    assert found["8.8.8.8"]["warninglists"], "a public resolver is flagged by the warninglists"
    bundle = draft["bundle"]
    _assert_valid(bundle)
    (report,) = [o for o in bundle["objects"] if o["type"] == "report"]
    assert report["name"] == "FANCY BEAR campaign update"
    assert report["created_by_ref"] == _identity("Alpha")
    patterns = {o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"}
    assert "[ipv4-addr:value = '194.165.16.47']" in patterns
    assert not any("8.8.8.8" in p for p in patterns), "warninglisted values are not made indicators"
    assert ip["object_refs"], "each finding names the objects made from it"
    # The saved draft is what the upload answered.
    again = node.client.get(f"{EXTRACT}/drafts/{draft['id']}", headers=node.bearer("alice")).json()
    assert again["findings"] == draft["findings"]
    assert again["bundle"] == bundle


def test_pdf_upload_brings_defanged_addresses_back_fanged(node):
    pdf = make_pdf(
        ["Operation summary", "Beacons reached 45.133.1[.]20 and hxxp://files[.]evil-share[.]org/x.bin daily."],
        title="Quarterly threat brief",
    )
    r = _upload(node, pdf, "application/pdf")
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["title"] == "Quarterly threat brief"
    found = _values(draft)
    assert found["45.133.1.20"]["type"] == "ipv4-addr"
    assert found["http://files.evil-share.org/x.bin"]["type"] == "url"
    _assert_valid(draft["bundle"])


def test_html_upload_reads_the_article_not_the_script(node):
    page = make_html(
        "Loader analysis",
        ["The loader called 203.0.113[.]77 via hxxps://cdn-check[.]net/p.", "Also T1059.001 was used."],
        script="var telemetry = '192.0.2.200';",
    )
    r = _upload(node, page, "text/html; charset=utf-8")
    assert r.status_code == 201, r.text
    found = _values(r.json())
    assert r.json()["title"] == "Loader analysis"
    assert {"203.0.113.77", "https://cdn-check.net/p", "T1059.001"} <= set(found)
    assert "192.0.2.200" not in found


def test_multipart_file_upload(node):
    pdf = make_pdf(["Exfiltration to 77.91.124[.]55 observed."])
    files = {"file": ("brief.pdf", pdf, "application/octet-stream")}
    r = node.client.post(EXTRACT, files=files, data={"title": "Exfil note"}, headers=node.bearer("alice"))
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Exfil note"
    assert "77.91.124.55" in _values(r.json())


def test_url_form_is_fetched_only_from_public_addresses_unless_allowed(node, monkeypatch):
    files = {"report.html": make_html("Remote report", ["Callback to 45.9.148[.]108 seen."])}
    with serve(FeedServer(files=files)) as server:
        body = {"url": server.url("report.html")}
        refused = node.client.post(EXTRACT, json=body, headers=node.bearer("alice"))
        assert "non-public address" in _problem(refused, 400)["detail"]
        monkeypatch.setenv("ACCORD_EXTRACT_ALLOW_PRIVATE", "1")
        core_settings.get_settings.cache_clear()
        r = node.client.post(EXTRACT, json=body, headers=node.bearer("alice"))
        assert r.status_code == 201, r.text
        assert r.json()["title"] == "Remote report"
        assert "45.9.148.108" in _values(r.json())
        missing = node.client.post(EXTRACT, json={"url": server.url("gone.html")}, headers=node.bearer("alice"))
        assert "HTTP 404" in _problem(missing, 400)["detail"]


def test_wrong_media_type_is_415(node):
    _problem(_upload(node, b"\x89PNG\r\n\x1a\n....", "image/png"), 415)
    files = {"file": ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png")}
    _problem(node.client.post(EXTRACT, files=files, headers=node.bearer("alice")), 415)


def test_empty_body_is_400(node):
    _problem(_upload(node, b"", "text/plain"), 400)
    _problem(_upload(node, b"  \n ", "text/plain"), 400)


def test_oversized_upload_is_413_and_nothing_is_saved(node, monkeypatch):
    monkeypatch.setenv("ACCORD_EXTRACT_MAX_BYTES", "1000")
    core_settings.get_settings.cache_clear()
    big = ("Seen at 45.133.1[.]20. " * 100).encode()
    assert "upload limit" in _problem(_upload(node, big, "text/plain"), 413)["detail"]

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(10):
            yield big[:300]

    headers = {**node.bearer("alice"), "Content-Type": "text/plain"}
    _problem(node.client.post(EXTRACT, content=chunks(), headers=headers), 413)
    listed = node.client.get(f"{EXTRACT}/drafts", headers=node.bearer("alice")).json()
    assert listed["drafts"] == []


def test_drafts_are_private_to_the_creating_organisation(shared):
    node = shared
    draft = _upload(node, REPORT.encode(), "text/plain").json()
    url = f"{EXTRACT}/drafts/{draft['id']}"
    hidden = node.client.get(url, headers=node.bearer("bob"))
    missing = node.client.get(f"{EXTRACT}/drafts/00000000-0000-4000-8000-000000000000", headers=node.bearer("bob"))
    assert _problem(hidden, 404)["title"] == _problem(missing, 404)["title"]
    assert node.client.get(f"{EXTRACT}/drafts", headers=node.bearer("bob")).json()["drafts"] == []
    for who in ("bob", "carol"):
        publish = node.client.post(f"{url}/publish", json={"collection": "shared"}, headers=node.bearer(who))
        _problem(publish, 404)
        review = node.client.patch(url, json={"exclude": ["8.8.8.8"]}, headers=node.bearer(who))
        _problem(review, 404)
    # A reader of Alpha sees Alpha's drafts; only writers create, review and publish them.
    assert node.client.get(url, headers=node.bearer("rita")).status_code == 200
    listed = node.client.get(f"{EXTRACT}/drafts", headers=node.bearer("rita")).json()["drafts"]
    assert [d["id"] for d in listed] == [draft["id"]]
    assert "bundle" not in listed[0]
    _problem(_upload(node, REPORT.encode(), "text/plain", who="rita"), 403)
    _problem(_upload(node, REPORT.encode(), "text/plain", who="alice-ro"), 403)


def test_review_drops_findings_and_objects_and_keeps_the_bundle_valid(node):
    draft = _upload(node, REPORT.encode(), "text/plain").json()
    url = f"{EXTRACT}/drafts/{draft['id']}"
    found = _values(draft)
    dropped_objects = set(found["194.165.16.47"]["object_refs"])
    file_obj = next(o for o in draft["bundle"]["objects"] if o["type"] == "file" and "hashes" in o)
    r = node.client.patch(url, json={"exclude": ["194.165.16.47", file_obj["id"]]}, headers=node.bearer("alice"))
    assert r.status_code == 200, r.text
    reviewed = r.json()
    assert "194.165.16.47" not in _values(reviewed)
    ids = {o["id"] for o in reviewed["bundle"]["objects"]}
    assert not (dropped_objects | {file_obj["id"]}) & ids
    (report,) = [o for o in reviewed["bundle"]["objects"] if o["type"] == "report"]
    assert set(report["object_refs"]) == ids - {report["id"]}
    for rel in (o for o in reviewed["bundle"]["objects"] if o["type"] == "relationship"):
        assert {rel["source_ref"], rel["target_ref"]} <= ids
    _assert_valid(reviewed["bundle"])
    unknown = node.client.patch(url, json={"exclude": ["not-in-it.example"]}, headers=node.bearer("alice"))
    _problem(unknown, 400)
    _problem(node.client.patch(url, json={"exclude": [report["id"]]}, headers=node.bearer("alice")), 400)


def test_publish_stores_the_bundle_for_the_collection_readers_only(shared):
    node = shared
    draft = _upload(node, REPORT.encode(), "text/plain").json()
    url = f"{EXTRACT}/drafts/{draft['id']}/publish"
    # Not a writer of the collection, a read-only token, a reader role: refused, and the draft stays a draft.
    _problem(node.client.post(url, json={"collection": "bravo-only"}, headers=node.bearer("alice")), 404)
    _problem(node.client.post(url, json={"collection": "shared"}, headers=node.bearer("alice-ro")), 403)
    _problem(node.client.post(url, json={"collection": "shared"}, headers=node.bearer("rita")), 403)
    _problem(node.client.post(url, json={"collection": "no-such"}, headers=node.bearer("alice")), 404)
    r = node.client.post(url, json={"collection": "shared"}, headers=node.bearer("alice"))
    assert r.status_code == 200, r.text
    result = r.json()
    objects = draft["bundle"]["objects"]
    assert result["refused"] == 0, result["reasons"]
    assert result["stored"] + result["duplicates"] == len(objects)
    assert result["stored"] > 0
    indicator = next(o for o in objects if o["type"] == "indicator")
    by_id = f"/api/v1/objects/{indicator['id']}"
    for reader in ("alice", "bob"):
        got = node.client.get(by_id, headers=node.bearer(reader))
        assert got.status_code == 200, reader
    _problem(node.client.get(by_id, headers=node.bearer("carol")), 404)
    carol_ids = {
        o["id"] for o in node.client.get("/api/v1/objects?limit=1000", headers=node.bearer("carol")).json()["objects"]
    }
    assert not carol_ids & {o["id"] for o in objects if o["type"] in ("indicator", "report")}
    shown = node.client.get(f"{EXTRACT}/drafts/{draft['id']}", headers=node.bearer("alice")).json()
    assert (shown["status"], shown["collection"]) == ("published", "shared")
    with get_engine().connect() as conn:
        actions = [r.action for r in conn.execute(select(audit_log.c.action))]
    assert "extract.publish" in actions
    # Once only; and a published draft is no longer edited.
    _problem(node.client.post(url, json={"collection": "shared"}, headers=node.bearer("alice")), 409)
    review = node.client.patch(
        f"{EXTRACT}/drafts/{draft['id']}", json={"exclude": ["8.8.8.8"]}, headers=node.bearer("alice")
    )
    _problem(review, 409)


def test_publish_counts_do_not_tell_what_another_organisation_holds(shared):
    # Alpha publishes the report where Bravo cannot read it; Bravo's publish of the same report is then told
    # exactly what it would be told on a node where Alpha held nothing: every object stored, as Bravo's own.
    node = shared
    with get_engine().begin() as conn:
        accounts.create_collection(conn, "Alpha only", "alpha-only", readers=["Alpha"], writers=["Alpha"])
    alpha_draft = _upload(node, REPORT.encode(), "text/plain").json()
    bravo_draft = _upload(node, REPORT.encode(), "text/plain", who="bob").json()
    alpha_url, bravo_url = (f"{EXTRACT}/drafts/{d['id']}/publish" for d in (alpha_draft, bravo_draft))
    alpha_pub = node.client.post(alpha_url, json={"collection": "alpha-only"}, headers=node.bearer("alice")).json()
    assert alpha_pub["stored"] == len(alpha_draft["bundle"]["objects"])
    bravo_pub = node.client.post(bravo_url, json={"collection": "bravo-only"}, headers=node.bearer("bob")).json()
    objects = bravo_draft["bundle"]["objects"]
    assert (bravo_pub["stored"], bravo_pub["duplicates"], bravo_pub["refused"]) == (len(objects), 0, 0)
    # the derived ids are each organisation's own; the SCOs (values) are the same ids, held in two copies
    alpha_ids = {o["id"] for o in alpha_draft["bundle"]["objects"]}
    bravo_ids = {o["id"] for o in objects}
    shared_ids = alpha_ids & bravo_ids
    assert shared_ids
    assert all(i.split("--")[0] in {"ipv4-addr", "domain-name", "url", "email-addr", "file"} for i in shared_ids)
    for oid in shared_ids:
        got = node.client.get(f"/api/v1/objects/{oid}", headers=node.bearer("bob"))
        assert got.status_code == 200
    indicator = next(o for o in objects if o["type"] == "indicator")
    assert node.client.get(f"/api/v1/objects/{indicator['id']}", headers=node.bearer("bob")).json() == indicator


def test_two_organisations_publish_one_report_into_one_collection(node):
    # Derived ids are per organisation: neither publish collides with the other's (no W2 refusal).
    with get_engine().begin() as conn:
        accounts.create_collection(conn, "Both", "both", readers=["Alpha", "Bravo"], writers=["Alpha", "Bravo"])
    for who in ("alice", "bob"):
        draft = _upload(node, REPORT.encode(), "text/plain", who=who).json()
        url = f"{EXTRACT}/drafts/{draft['id']}/publish"
        result = node.client.post(url, json={"collection": "both"}, headers=node.bearer(who)).json()
        assert result["refused"] == 0, result["reasons"]
        assert result["stored"] == len(draft["bundle"]["objects"])


def test_publishing_into_a_collection_the_caller_cannot_see_is_404_like_a_missing_one(shared):
    node = shared
    with get_engine().begin() as conn:
        accounts.create_collection(conn, "Bravo writes", "bravo-writes", readers=["Alpha", "Bravo"], writers=["Bravo"])
    draft = _upload(node, REPORT.encode(), "text/plain").json()
    url = f"{EXTRACT}/drafts/{draft['id']}/publish"
    hidden = _problem(node.client.post(url, json={"collection": "bravo-only"}, headers=node.bearer("alice")), 404)
    missing = _problem(node.client.post(url, json={"collection": "no-such"}, headers=node.bearer("alice")), 404)
    assert hidden["title"] == missing["title"]
    assert hidden["detail"].replace("bravo-only", "X") == missing["detail"].replace("no-such", "X")
    # Alpha reads this one, so it knows it exists: the refusal may say it is not writable.
    readable = _problem(node.client.post(url, json={"collection": "bravo-writes"}, headers=node.bearer("alice")), 403)
    assert "bravo-writes" in readable["detail"]
    shown = node.client.get(f"{EXTRACT}/drafts/{draft['id']}", headers=node.bearer("alice")).json()
    assert shown["status"] == "draft"
    assert node.client.post(url, json={"collection": "shared"}, headers=node.bearer("alice")).status_code == 200


def test_publish_marks_every_object_with_the_chosen_tlp(shared):
    node = shared
    draft = _upload(node, REPORT.encode(), "text/plain").json()
    url = f"{EXTRACT}/drafts/{draft['id']}/publish"
    # An unknown level is a precise 400, and the draft stays unpublished.
    bad = _problem(
        node.client.post(url, json={"collection": "shared", "tlp": "purple"}, headers=node.bearer("alice")), 400
    )
    assert "tlp" in bad["detail"]
    r = node.client.post(url, json={"collection": "shared", "tlp": "red"}, headers=node.bearer("alice"))
    assert r.status_code == 200, r.text
    assert (r.json()["tlp"], r.json()["refused"]) == ("TLP:RED", 0)
    objects = [o for o in draft["bundle"]["objects"] if o["type"] not in ("marking-definition", "identity")]
    assert {o["type"] for o in objects} >= {"indicator", "report"}
    red_ref = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    for obj in objects:
        got = node.client.get(f"/api/v1/objects/{obj['id']}", headers=node.bearer("alice"))
        assert got.status_code == 200, obj["id"]
        assert red_ref in got.json()["object_marking_refs"], obj["type"]
    # RED: Bravo, a reader of the collection, reads none of it (R2), exactly as if it did not exist.
    indicator = next(o for o in objects if o["type"] == "indicator")
    _problem(node.client.get(f"/api/v1/objects/{indicator['id']}", headers=node.bearer("bob")), 404)


def test_publish_without_tlp_leaves_objects_unmarked(shared):
    node = shared
    draft = _upload(node, REPORT.encode(), "text/plain").json()
    r = node.client.post(
        f"{EXTRACT}/drafts/{draft['id']}/publish", json={"collection": "shared"}, headers=node.bearer("alice")
    )
    assert r.status_code == 200
    assert r.json()["tlp"] is None
    indicator = next(o for o in draft["bundle"]["objects"] if o["type"] == "indicator")
    got = node.client.get(f"/api/v1/objects/{indicator['id']}", headers=node.bearer("bob")).json()
    assert "object_marking_refs" not in got  # the node default applies (R5): Bravo reads it under AMBER
