"""KServe's V1 protocol: GET /, GET /v1/models, GET /v1/models/<name>, POST /v1/models/<name>:predict.

The request is {"instances": [...]} in any row form /predict takes; the answer is
{"predictions": [class per row]} as the protocol has it, and the request's prediction id in the
X-Prediction-Id header. Errors are {"error": "..."}, as KServe answers them.
"""

from __future__ import annotations

from flask import Flask, Response

from mlops.serving.responses import json_response, read_json_body
from mlops.serving.service import PredictionService
from mlops.serving.validation import RequestError

ERROR_PREFIX = "/v1/models"  # errors under this path are {"error": "..."} (Vertex routes may sit under /v1/)


def check_name(service: PredictionService, name: str) -> None:
    if name != service.name:
        raise RequestError(404, "model_not_found", f"no model {name!r} here; this server serves {service.name!r}")


def register(app: Flask, service: PredictionService) -> None:
    @app.get("/")
    def v1_live() -> Response:
        return json_response({"status": "alive"})

    @app.get("/v1/models")
    def v1_models() -> Response:
        return json_response({"models": [service.name]})

    @app.get("/v1/models/<name>")
    def v1_model(name: str) -> Response:
        check_name(service, name)
        return json_response({"name": service.name, "ready": service.ready}, 200 if service.ready else 503)

    @app.post("/v1/models/<name>:predict")
    def v1_predict(name: str) -> Response:
        check_name(service, name)
        body = read_json_body(service.validator.max_json_values)
        if type(body) is not dict or "instances" not in body or set(body) - {"instances", "parameters"}:
            raise RequestError(400, "invalid_request", 'the body must be {"instances": [...]}')
        prediction = service.predict(service.validator.instances(body["instances"]))
        return json_response({"predictions": prediction.predictions}, prediction_id=prediction.id)
