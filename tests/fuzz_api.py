"""Schemathesis over the node's OpenAPI document: requests generated from every operation (valid and invalid),
sent with real tokens through the ASGI app; every answer must be below 500, and every error a problem JSON.

Shared by the bounded test (tests/integration/api/test_schemathesis.py) and the long run (bench/bench_fuzz_api.py).
"""

from __future__ import annotations

import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

# Endless by design (server-sent events): a generated request would hold the run until its timeout.
SKIPPED = {("GET", "/api/v1/stream")}
PROBLEM_JSON = "application/problem+json"


@dataclass
class Finding:
    """One answer that broke the contract."""

    who: str
    method: str
    path: str
    status: int
    reason: str
    request: str


@dataclass
class FuzzResult:
    """What a run did and found."""

    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_who: dict[str, dict[int, int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    operations: int = 0

    @property
    def server_errors(self) -> int:
        """How many answers were 5xx."""
        return sum(n for status, n in self.by_status.items() if status >= 500)


@contextmanager
def no_name_resolution() -> Iterator[None]:
    """Outbound fetches the generated requests ask for (feed pulls, peer syncs, report URLs) fail at once as
    unresolvable instead of reaching the network."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (fuzzing: no network)")

    original = socket.getaddrinfo
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.getaddrinfo = original


def _check(result: FuzzResult, who: str, case: Any, response: Any) -> None:
    result.cases += 1
    status = int(response.status_code)
    result.by_status[status] = result.by_status.get(status, 0) + 1
    mine = result.by_who.setdefault(who, {})
    mine[status] = mine.get(status, 0) + 1
    reason = ""
    if status >= 500:
        reason = "server error"
    elif status >= 400:
        media = response.headers.get("content-type", [""])
        media = media[0] if isinstance(media, list) else media
        if not str(media).startswith(PROBLEM_JSON):
            reason = f"error without problem JSON ({media})"
    if reason:
        body = getattr(response, "text", "")
        detail = (
            f"{case.method} {case.formatted_path} query={case.query!r} body={str(case.body)[:300]!r} -> {body[:300]}"
        )
        result.findings.append(Finding(who, case.method, case.path, status, reason, detail))


def _fuzz_operation(
    result: FuzzResult, who: str, auth: dict[str, str], operation: Any, mode: GenerationMode, examples: int
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        try:
            response = case.call(headers=auth)
        except Exception as exc:
            result.cases += 1
            result.by_status[500] = result.by_status.get(500, 0) + 1
            result.by_who.setdefault(who, {})[500] = result.by_who.get(who, {}).get(500, 0) + 1
            sent = f"{case.method} {case.formatted_path} query={case.query!r} body={str(case.body)[:300]!r}"
            result.findings.append(Finding(who, case.method, case.path, 500, "server error", f"{sent} -> {exc!r}"))
            return
        _check(result, who, case, response)

    with suppress(Unsatisfiable):  # no invalid request exists for an operation without parameters or body
        send()


def run(
    app: Any,
    tokens: dict[str, str],
    *,
    examples_per_operation: int,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    time_budget: float | None = None,
) -> FuzzResult:
    """Send generated requests for every operation as each token's user; findings are collected, not raised."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    result = FuzzResult()
    started = time.monotonic()
    operations = [op.ok() for op in schema.get_all_operations()]
    result.operations = len(operations)
    with no_name_resolution(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for operation in operations:  # each operation as each user before the next: a time budget cuts fairly
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            for mode in modes:
                for who, token in tokens.items():
                    if time_budget is not None and time.monotonic() - started > time_budget:
                        return result
                    auth = {"Authorization": f"Bearer {token}"}
                    _fuzz_operation(result, who, auth, operation, mode, examples_per_operation)
    return result


def seed(engine: Any) -> dict[str, str]:
    """A node with two organisations, a shared collection, an admin and an analyst; their tokens by role."""
    from accord.accounts import service as accounts
    from accord.demo.service import ensure_host_org

    with engine.begin() as conn:
        ensure_host_org(conn)
        host = accounts.host_org(conn)
        accounts.create_org(conn, "Alpha", actor="fuzz")
        accounts.create_org(conn, "Bravo", actor="fuzz")
        accounts.create_user(conn, "admin@node.example", host.name, "admin", None)
        accounts.create_user(conn, "alice@alpha.example", "Alpha", "analyst", None)
        accounts.create_collection(conn, "Shared", "shared", readers=["Alpha", "Bravo"], writers=["Alpha"])
        return {
            "admin": accounts.create_token(conn, "admin@node.example"),
            "analyst": accounts.create_token(conn, "alice@alpha.example"),
        }
