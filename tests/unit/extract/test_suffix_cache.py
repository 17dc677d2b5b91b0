"""The public suffix sets read back from var/cache are the ones built from tldextract's bundled snapshot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from accord.core import settings as core_settings
from accord.extract import patterns


@pytest.fixture
def own_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    patterns._suffix_rules.cache_clear()
    yield tmp_path / "var" / "cache"
    core_settings.get_settings.cache_clear()
    patterns._suffix_rules.cache_clear()


def test_cached_suffix_sets_equal_the_built_ones(own_var: Path) -> None:
    built = patterns._build_suffix_rules()
    assert "com" in built[0]
    assert "co.uk" in built[0]
    assert patterns._suffix_rules() == built  # built and written
    (written,) = own_var.glob("public-suffixes-*")
    patterns._suffix_rules.cache_clear()
    assert patterns._suffix_rules() == built  # read back
    written.write_bytes(written.read_bytes()[:-10])  # a truncated file is rebuilt, not trusted
    patterns._suffix_rules.cache_clear()
    assert patterns._suffix_rules() == built


def test_plain_hosts_are_classified_without_importing_tldextract(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from accord.extract.patterns import classify_dotted, registered_domain\n"
        "assert classify_dotted('evil-site.co.uk') == ('domain-name', 'evil-site.co.uk', ())\n"
        "assert classify_dotted('not.a-real-suffix-zz') is None\n"
        "assert 'tldextract' not in sys.modules\n"
        "assert registered_domain('xn--bcher-kva.com')\n"  # punycode: tldextract's own parsing
        "assert 'tldextract' in sys.modules\n"
    )
    env = {"ACCORD_VAR_DIR": str(tmp_path / "var"), "PATH": ""}
    build = "from accord.extract.patterns import registered_domain; assert registered_domain('evil.com')"
    for run in (build, code):  # the first process builds the cache file, the second reads it
        done = subprocess.run([sys.executable, "-c", run], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert list((tmp_path / "var" / "cache").glob("public-suffixes-*"))
