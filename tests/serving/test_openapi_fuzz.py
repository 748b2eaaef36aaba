"""schemathesis against /openapi.json: generated requests, valid and invalid, to every route
(Vertex AI's included), never get a 5xx, and every 4xx is the route's JSON error form."""

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

CASES = {"POST": 80, "GET": 5}  # per generation mode; GET routes take no input: a few cases exhaust them


@pytest.mark.slow  # hundreds of generated requests
def test_no_generated_request_gets_a_server_error(make_app):
    app = make_app(AIP_HEALTH_ROUTE="/vertex/health", AIP_PREDICT_ROUTE="/vertex/predict")
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    calls: Counter[int] = Counter()
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if method == "POST" else (GenerationMode.POSITIVE,)
        for mode in modes:

            @settings(
                max_examples=CASES[method],
                deadline=None,
                database=None,
                derandomize=True,  # the same cases on every run, so a CI failure reproduces
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                response = case.call()
                calls[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append((case.method, case.path, case.body, response.text[:300]))
                elif response.status_code >= 400 and case.path.startswith(("/v1/models", "/v2")):
                    assert type(response.json()["error"]) is str  # KServe's and V2's error form
                elif response.status_code >= 400 and case.path != "/ping":
                    assert set(response.json()["error"]) == {"code", "message", "details"}

            run()
    print(f"schemathesis: {sum(calls.values())} requests, by status: {dict(sorted(calls.items()))}")
    assert not failures, failures[:3]
    assert sum(calls.values()) >= 500, calls
    assert calls[200] >= 100 and sum(n for status, n in calls.items() if 400 <= status < 500) >= 100, calls
