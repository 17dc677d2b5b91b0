"""Node settings: the one place that reads the environment (ACCORD_* variables and an optional .env).

The rules are pydantic-settings' (names in any case, the environment over `.env`, each value validated as its
field's type), applied here in a few lines instead of by that package, whose import is a large share of a short
command's start-up (bench/bench_extract_startup.py); tests/unit/core/test_settings.py holds the two equal.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "ACCORD_"
ENV_FILE = ".env"


class Settings(BaseModel):
    """All tunables of a node; each maps to an ACCORD_<NAME> environment variable."""

    # As pydantic-settings validates them: defaults too, other variables of the prefix ignored.
    model_config = ConfigDict(extra="ignore", validate_default=True)

    database_url: str = "sqlite:///./var/accord.db"
    database_lock_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long a write waits for another's lock before it is refused with 503 and Retry-After "
        "(SQLite busy timeout; PostgreSQL lock_timeout)",
    )
    host_org: str = "Host Organisation"
    default_tlp: str = Field(default="amber", description="TLP assumed for unmarked objects (rule R5)")
    secret_key: str = Field(default="", description="signs paging cursors; generated into var/ when empty")
    max_object_bytes: int = 1_048_576
    import_batch_size: int = 5_000
    import_cache_mb: int = Field(
        default=512, description="SQLite page cache of an `accord import` (grows only as a large store needs it)"
    )
    taxii_max_content_length: int = 104_857_600
    taxii_inline_max_objects: int = 5_000
    taxii_envelope_slice_bytes: int = Field(
        default=4_194_304, gt=0, description="a larger TAXII envelope is parsed and stored this many bytes at a time"
    )
    taxii_page_limit: int = Field(default=5_000, description="the most objects a TAXII page holds, whatever asked")
    taxii_default_page: int = Field(default=1_000, description="objects per TAXII page when the client names no limit")
    taxii_status_retention_hours: int = Field(default=24, description="keep POST status resources this long (>= 24)")
    taxii_title: str = "Accord TAXII 2.1"
    taxii_api_roots: str = "api"
    login_max_failures: int = Field(
        default=10, description="failed passwords of one account from one address before sign-in delays begin"
    )
    login_window_seconds: int = Field(default=3_600, description="how long a failed password counts")
    login_delay_seconds: float = Field(default=2.0, description="the first sign-in delay; each failure doubles it")
    login_max_delay_seconds: float = Field(default=900.0, description="the longest sign-in delay")
    value_index: bool = Field(default=True, description="fill the correlation value index on ingest")
    correlation_widespread: int = 50
    correlation_count_cap: int = Field(
        default=200,
        description="a widespread value's readable objects are counted up to this many per probe (then a lower bound)",
    )
    warninglists: str = Field(default="", description="comma-separated active warninglist names; empty = defaults")
    extract_max_bytes: int = Field(default=20_000_000, description="largest document `extract` reads or fetches")
    extract_fetch_timeout: float = Field(default=20.0, description="seconds allowed to fetch a report URL")
    extract_allow_private: bool = Field(default=False, description="let the API fetch URLs on non-public addresses")
    feeds_allow_private: bool = Field(
        default=False, description="let feeds (and their redirects) reach loopback, private and link-local addresses"
    )
    webhooks_allow_private: bool = Field(
        default=False, description="let outgoing webhooks reach loopback, private and link-local addresses"
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="seconds a webhook receiver has to answer")
    webhook_max_attempts: int = Field(default=6, description="attempts of one webhook delivery before it is dead")
    webhook_retry_seconds: float = Field(
        default=30.0, description="wait before a webhook delivery's first retry; each further retry doubles it"
    )
    feed_schedule_seconds: float = Field(default=60.0, description="seconds between due-feed pulls; 0 = off")
    sync_every_seconds: int = Field(
        default=300, description="default seconds between a subscription's scheduled runs; 0 = only `accord sync`"
    )
    sync_page_limit: int = Field(default=5_000, description="objects asked per page when pulling from a peer")
    joint_follow: bool = Field(
        default=True,
        description="before syncing a peer, pull the collections of cases, requests and requirements it shares with us",
    )
    stream_poll_seconds: float = Field(default=0.15, description="seconds between a live stream's database polls")
    stream_keepalive_seconds: float = Field(default=15.0, description="seconds between a quiet stream's keep-alives")
    var_dir: Path = Path("./var")
    web_assets_dir: Path | None = Field(
        default=None, description="the npm packages the console serves (default: node_modules beside the source)"
    )
    node_key_dir: Path | None = Field(
        default=None, description="the node's key files (secret encryption, signing); default var_dir/keys"
    )
    run_jobs: bool = Field(default=True, description="API processes run queued jobs in a background thread")
    start_helpers: bool = Field(
        default=False, description="API processes start their helper processes at start-up (`accord serve` sets it)"
    )
    sign_responses: bool = Field(default=True, description="sign every TAXII response body (X-Accord-Signature)")


def read_environment(env_file: str | Path = ENV_FILE) -> dict[str, str]:
    """The settings' raw values: ACCORD_<NAME> variables (any case) of env_file, then of the environment."""
    sources: list[dict[str, str | None]] = []
    path = Path(env_file).expanduser()
    if path.is_file():
        from dotenv import dotenv_values  # only a node with a .env file pays for the parser

        sources.append(dotenv_values(path, encoding="utf-8"))
    sources.append(dict(os.environ))
    prefix, fields = ENV_PREFIX.lower(), Settings.model_fields
    values: dict[str, str] = {}
    for source in sources:  # later sources win: the environment over the file
        for key, value in source.items():
            name = key.lower()
            if value is not None and name.startswith(prefix) and name[len(prefix) :] in fields:
                values[name[len(prefix) :]] = value
    return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings.model_validate(read_environment())
