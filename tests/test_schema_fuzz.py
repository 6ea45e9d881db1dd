"""Schemathesis against the service's own OpenAPI schema, over real HTTP.

Every generated request must end in a non-5xx response; every 4xx must have the documented error shape
``{"error": {"code", "message", "field"?}}``; 2xx bodies must conform to the schema.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES_PER_OPERATION = 250


def check_response(case, response) -> None:
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if 400 <= response.status_code < 500:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
        assert set(error) <= {"code", "message", "field"}
    elif response.status_code < 300 and "application/json" in str(response.headers.get("content-type")):
        case.validate_response(response, checks=[response_schema_conformance])


def fuzz(operation, label: str, sent: dict[str, int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(case) -> None:
        response = case.call(timeout=60)
        sent[label] = sent.get(label, 0) + 1
        check_response(case, response)

    run()


def test_generated_requests_get_no_5xx_and_one_error_shape(live_server) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    schema.config.update(base_url=live_server.url)
    sent: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzz(operation, f"{operation.method.upper()} {operation.path}", sent)
    print(f"schemathesis sent {sum(sent.values())} requests: {sent}")
    assert sum(sent.values()) >= 1000, sent
