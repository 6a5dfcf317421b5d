"""Property-based run against the OpenAPI document (schemathesis): no 5xx, every response
conforms to the document (status code, content type, body schema).

Bounded: a few examples per operation, derandomized, so it stays well under a minute.
"""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import World

schemathesis = pytest.importorskip("schemathesis")

MAX_EXAMPLES = 20
BUDGET_SECONDS = 50


def _runner(operation, headers, checks, statuses):  # type: ignore[no-untyped-def]
    from hypothesis import HealthCheck, Phase, given, settings

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=checks)

    return run


@pytest.mark.slow
def test_api_against_its_document(app, world: World) -> None:  # type: ignore[no-untyped-def]
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    started = time.monotonic()
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    tried: list[str] = []
    statuses: dict[int, int] = {}
    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        for who in ("member", "staff"):
            _runner(operation, world.auth(who), checks, statuses)()
        tried.append(operation.label)
    assert len(tried) == len(operations), f"time budget ran out after {tried}"
    # the run exercised both successes and refusals, and never a server error
    assert statuses.get(200, 0) > 50 and sum(n for s, n in statuses.items() if 400 <= s < 500) > 50, statuses
    assert not any(s >= 500 for s in statuses), statuses
