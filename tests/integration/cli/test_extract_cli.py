"""`accord extract PATH|URL|-` as a user runs it: formats, document kinds, URLs, and one-line errors."""

from __future__ import annotations

import io
import sys

import orjson
import pytest
from stix2validator import validate_instance

from accord.core import settings as core_settings
from tests.integration.cli.cli_runner import Result, run_cli
from tests.integration.documents import make_html, make_pdf
from tests.integration.feeds.server import FeedServer, serve

TEXT = (
    "Incident note 7\n\n"
    "The implant beaconed to hxxp://update-check[.]info/gate.php and 45.133.1[.]20 (also 45[.]133[.]1[.]20), "
    "and mailed loot to drop[at]mail-relay[.]biz. Resolver 8.8.8.8 was queried first.\n"
)


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    core_settings.get_settings.cache_clear()

    def run(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, *args)

    yield run
    core_settings.get_settings.cache_clear()


def _one_line_error(result: Result) -> str:
    assert result.code != 0
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("accord: error: ")
    return lines[0]


def test_table_lists_fanged_values_with_their_warninglists(cli, tmp_path):
    (tmp_path / "note.txt").write_text(TEXT)
    r = cli("extract", "note.txt")
    assert r.code == 0, r.err
    rows = {}
    for line in r.out.splitlines():
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if line.startswith("│") and len(cells) == 4 and cells[0]:
            rows[cells[1]] = cells  # a row's first line: type, value, warninglists, context
    assert rows["45.133.1.20"][0] == "ipv4-addr"
    assert rows["http://update-check.info/gate.php"][0] == "url"
    assert rows["drop@mail-relay.biz"][0] == "email-addr"
    assert rows["45.133.1.20"][2] == "-"
    assert "public DNS" in rows["8.8.8.8"][2]
    assert "beaconed" in rows["45.133.1.20"][3]


def test_table_shows_bracketed_text_as_written(cli, tmp_path):
    (tmp_path / "note.txt").write_text("Fetched hxxp[://]evil-site[.]com[/]gate.php; see [bold] and [/] notes.\n")
    r = cli("extract", "note.txt")
    assert r.code == 0, r.err
    assert "http://evil-site.com/gate.php" in r.out
    assert "[/]" in r.out


def test_json_has_offsets_context_and_warninglist_hits(cli, tmp_path):
    (tmp_path / "note.txt").write_text(TEXT)
    r = cli("extract", "note.txt", "--format", "json", "-o", "out.json")
    assert r.code == 0, r.err
    body = orjson.loads((tmp_path / "out.json").read_bytes())
    assert body["title"] == "Incident note 7"
    found = {f["value"]: f for f in body["findings"]}
    ip = found["45.133.1.20"]
    assert TEXT[ip["start"] : ip["end"]] == "45.133.1[.]20"
    assert ip["occurrences"] == 2
    assert "beaconed" in ip["context"]
    assert ip["warninglists"] == []
    assert found["8.8.8.8"]["warninglists"]
    assert found["drop@mail-relay.biz"]["type"] == "email-addr"


def test_stix_bundle_is_valid_and_named_after_the_document(cli, tmp_path):
    (tmp_path / "note.txt").write_text(TEXT)
    r = cli("extract", "note.txt", "--format", "stix", "-o", "bundle.json", "--title", "Note seven")
    assert r.code == 0, r.err
    bundle = orjson.loads((tmp_path / "bundle.json").read_bytes())
    result = validate_instance(bundle)
    assert result.is_valid, [str(e) for e in result.errors]
    (report,) = [o for o in bundle["objects"] if o["type"] == "report"]
    assert report["name"] == "Note seven"
    patterns = {o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"}
    assert "[url:value = 'http://update-check.info/gate.php']" in patterns
    assert not any("8.8.8.8" in p for p in patterns)


def test_pdf_and_html_files_by_extension_and_by_content(cli, tmp_path):
    (tmp_path / "brief.pdf").write_bytes(make_pdf(["Staging host 5.252.176[.]9 served the payload."], title="Brief"))
    (tmp_path / "scan-result").write_bytes(make_pdf(["Second stage from 77.91.124[.]55."]))
    page = make_html("Blog post", ["Domain bad-cdn[.]org hosted the kit."], script="var a = '9.9.9.9';")
    (tmp_path / "post.html").write_bytes(page)
    (tmp_path / "saved-page").write_bytes(page)
    expected = {"brief.pdf": "5.252.176.9", "scan-result": "77.91.124.55", "post.html": "bad-cdn.org"}
    expected["saved-page"] = "bad-cdn.org"
    for name, value in expected.items():
        r = cli("extract", name, "-f", "json")
        assert r.code == 0, (name, r.err)
        values = {f["value"] for f in orjson.loads(r.out)["findings"]}
        assert value in values, name
        assert "9.9.9.9" not in values
    assert orjson.loads(cli("extract", "brief.pdf", "-f", "json").out)["title"] == "Brief"


def test_stdin(cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(TEXT.encode()))))
    r = cli("extract", "-", "--format", "json")
    assert r.code == 0, r.err
    assert "45.133.1.20" in {f["value"] for f in orjson.loads(r.out)["findings"]}


def test_url_only_from_public_addresses_unless_allowed(cli):
    files = {"post.html": make_html("Remote", ["C2 at 45.9.148[.]108 again."])}
    with serve(FeedServer(files=files)) as server:
        refused = cli("extract", server.url("post.html"))
        assert "non-public address 127.0.0.1" in _one_line_error(refused)
        r = cli("extract", server.url("post.html"), "--allow-private", "-f", "json")
        assert r.code == 0, r.err
        assert "45.9.148.108" in {f["value"] for f in orjson.loads(r.out)["findings"]}
        missing = cli("extract", server.url("nothing.html"), "--allow-private")
        assert "HTTP 404" in _one_line_error(missing)


def test_errors_are_one_line_without_a_traceback(cli, tmp_path, monkeypatch):
    assert "cannot read nope.txt" in _one_line_error(cli("extract", "nope.txt"))
    (tmp_path / "dir").mkdir()
    assert "is a directory" in _one_line_error(cli("extract", "dir"))
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 20)
    assert "not text, HTML or PDF" in _one_line_error(cli("extract", "blob.bin"))
    (tmp_path / "empty.txt").write_bytes(b"")
    assert "empty" in _one_line_error(cli("extract", "empty.txt"))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    assert "PDF" in _one_line_error(cli("extract", "broken.pdf"))
    (tmp_path / "note.txt").write_text(TEXT)
    assert "cannot write" in _one_line_error(cli("extract", "note.txt", "-o", "dir/missing/out.txt"))
    monkeypatch.setenv("ACCORD_EXTRACT_MAX_BYTES", "100")
    core_settings.get_settings.cache_clear()
    assert "larger than 100 bytes" in _one_line_error(cli("extract", "note.txt"))
