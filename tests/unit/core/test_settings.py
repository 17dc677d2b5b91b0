"""Settings read from ACCORD_* variables and .env exactly as pydantic-settings would read them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from accord.core import settings as core_settings
from accord.core.settings import ENV_FILE, ENV_PREFIX, Settings, get_settings


class _Reference(BaseSettings, Settings):
    """The same fields, read by pydantic-settings with the configuration Accord used it with."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore")


def _both() -> tuple[Any, Any]:
    """(what get_settings reads, what pydantic-settings reads), each a dump or the ValidationError's locations."""
    results = []
    for read in (lambda: Settings.model_validate(core_settings.read_environment()), _Reference):
        try:
            results.append(read().model_dump())
        except ValidationError as exc:
            results.append(sorted(str(error["loc"]) for error in exc.errors()))
    return results[0], results[1]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ACCORD_* variable set, and a working directory of its own (where .env is looked for)."""
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    core_settings.get_settings.cache_clear()
    yield tmp_path
    core_settings.get_settings.cache_clear()


def test_defaults_without_environment(clean_env: Path) -> None:
    ours, reference = _both()
    assert ours == reference
    assert ours["database_url"] == "sqlite:///./var/accord.db"
    assert ours["var_dir"] == Path("var")


def test_variables_in_any_case_are_typed_and_unknown_ones_ignored(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", "postgresql://db/accord")
    monkeypatch.setenv("accord_extract_max_bytes", "123")
    monkeypatch.setenv("Accord_Run_Jobs", "0")
    monkeypatch.setenv("ACCORD_VAR_DIR", "/srv/accord")
    monkeypatch.setenv("ACCORD_LOGIN_DELAY_SECONDS", "0.5")
    monkeypatch.setenv("ACCORD_NOT_A_SETTING", "x")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")  # no prefix: not ours
    ours, reference = _both()
    assert ours == reference
    got = get_settings()
    assert (got.database_url, got.extract_max_bytes, got.run_jobs) == ("postgresql://db/accord", 123, False)
    assert (got.var_dir, got.login_delay_seconds) == (Path("/srv/accord"), 0.5)


def test_dotenv_file_is_read_and_the_environment_wins(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text(
        "# node settings\n"
        "ACCORD_HOST_ORG='Org From File'\n"
        'export ACCORD_DEFAULT_TLP="green"\n'
        "accord_taxii_page_limit=77\n"
        "ACCORD_WARNINGLISTS\n"  # a name without a value sets nothing
        "ACCORD_SECRET_KEY=from-file\n"
        "ACCORD_UNKNOWN=1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ACCORD_SECRET_KEY", "from-env")
    ours, reference = _both()
    assert ours == reference
    got = get_settings()
    assert (got.host_org, got.default_tlp, got.taxii_page_limit) == ("Org From File", "green", 77)
    assert (got.secret_key, got.warninglists) == ("from-env", "")


def test_an_invalid_value_is_refused_as_pydantic_settings_refuses_it(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_TAXII_PAGE_LIMIT", "many")
    ours, reference = _both()
    assert ours == reference == ["('taxii_page_limit',)"]
    with pytest.raises(ValidationError):
        get_settings()


_FIELDS = sorted(Settings.model_fields)
_VALUES = st.sampled_from(["", "0", "1", "7", "-3", "2.5", "true", "off", "yes", "none", "/tmp/x", "a,b", "amber"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    env=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=6),
    file=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=6),
    upper=st.booleans(),
)
def test_any_variables_read_the_same(clean_env: Path, env: dict[str, str], file: dict[str, str], upper: bool) -> None:
    lines = [f"{ENV_PREFIX}{name.upper()}='{value}'" for name, value in file.items()]
    (clean_env / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    names = [ENV_PREFIX + (name.upper() if upper else name) for name in env]
    try:
        os.environ.update(zip(names, env.values(), strict=True))
        ours, reference = _both()
    finally:
        for name in names:
            os.environ.pop(name, None)
    assert ours == reference
