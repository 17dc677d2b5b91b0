"""A bounded schemathesis run over the OpenAPI document as an admin and as an analyst: no answer is a 5xx, and
every error is a problem JSON (issue 23 item 3). The long run (10,000+ cases) is bench/bench_fuzz_api.py."""

from __future__ import annotations

from accord.api.app import create_app
from accord.core.db import get_engine
from tests import fuzz_api

EXAMPLES_PER_OPERATION = 2
TIME_BUDGET_SECONDS = 150.0  # a safety bound: a quiet run ends sooner, when the examples are done


def test_generated_requests_get_no_5xx_and_only_problem_json_errors(db_url: str) -> None:
    tokens = fuzz_api.seed(get_engine())
    result = fuzz_api.run(
        create_app(), tokens, examples_per_operation=EXAMPLES_PER_OPERATION, time_budget=TIME_BUDGET_SECONDS
    )
    assert result.operations >= 30  # the whole document was loaded
    assert result.cases >= 100, result.by_status  # enough requests were sent to mean something
    assert any(400 <= status < 500 for status in result.by_status)  # invalid requests were among them
    assert any(status < 300 for status in result.by_status)  # and valid ones that succeeded
    assert [f"{f.who}: {f.reason}: {f.request}" for f in result.findings] == []
    print(
        f"schemathesis: {result.cases} cases, {result.server_errors} 5xx, statuses {sorted(result.by_status.items())}"
    )
