"""The galaxy alias entries read back from var/cache are the entries built from the bundled clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.core import settings as core_settings
from accord.extract import galaxy


def test_cached_entries_equal_the_built_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    galaxy.entries.cache_clear()
    try:
        built = galaxy._entries()
        assert galaxy.entries() == built  # built and written
        assert len(list((tmp_path / "var" / "cache").glob("galaxy-entries-*"))) == 1
        galaxy.entries.cache_clear()
        assert galaxy.entries() == built  # read back
    finally:
        core_settings.get_settings.cache_clear()
        galaxy.entries.cache_clear()


def test_the_short_text_matcher_finds_what_the_long_text_matcher_finds() -> None:
    text = "APT28 (Fancy Bear) used Cobalt Strike and Mimikatz; LockBit ransomware, Cuba ransomware and emotet-loader."
    lowered = text.encode("ascii", "replace").lower()
    quick = galaxy.find_names(text, lowered, galaxy.quick_matcher())
    assert quick
    assert quick == galaxy.find_names(text, lowered, galaxy.matcher())
