"""The `accord` CLI as a user runs it, on an initialised node (test_extract_cli.py needs none: its own fixture)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.cli.cli_runner import Result, run_cli


@pytest.fixture
def cli(db_url: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return run_cli(capsys, monkeypatch, *args)

    assert run("init").code == 0
    return run
