"""The galaxy alias entries read back from var/cache are the entries built from the bundled clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.core import settings as core_settings
from accord.extract import galaxy


def test_cached_entries_equal_the_built_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    try:
        built = galaxy._entries()
        assert galaxy.entries() == built  # built and written
        assert len(list((tmp_path / "var" / "cache").glob("galaxy-entries-*"))) == 1
        assert galaxy.entries() == built  # read back
    finally:
        core_settings.get_settings.cache_clear()
