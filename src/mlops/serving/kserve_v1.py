"""KServe's V1 protocol: GET /, GET /v1/models, GET /v1/models/<name>, POST /v1/models/<name>:predict.

The request is {"instances": [...]} in any row form /predict takes; the answer is
{"predictions": [class per row]} as the protocol has it, and the request's prediction id in the
X-Prediction-Id header. Errors are {"error": "..."}, as KServe answers them.
"""

from __future__ import annotations

from flask import Response

from mlops.serving.openapi import json_body, ok, plain_error, prediction_response
from mlops.serving.responses import json_response, read_instances
from mlops.serving.routes import Routes
from mlops.serving.service import PredictionService
from mlops.serving.validation import RequestError

PLAIN_ERRORS = "/v1/models"  # errors under this path are {"error": "..."} (Vertex routes may sit under /v1/)


def check_name(service: PredictionService, name: str) -> None:
    if name != service.name:
        raise RequestError(404, "model_not_found", f"no model {name!r} here; this server serves {service.name!r}")


def register(routes: Routes, service: PredictionService) -> None:
    schemas = routes.schemas

    @routes.get("/", "KServe V1 liveness", {"200": ok("alive")})
    def v1_live() -> Response:
        return json_response({"status": "alive"})

    @routes.get("/v1/models", "KServe V1: the models served", {"200": ok("model names")})
    def v1_models() -> Response:
        return json_response({"models": [service.name]})

    @routes.get(
        "/v1/models/<name>", "KServe V1: is the model ready", {"200": ok("ready"), "503": plain_error("not ready")}
    )
    def v1_model(name: str) -> Response:
        check_name(service, name)
        return json_response({"name": service.name, "ready": service.ready}, 200 if service.ready else 503)

    @routes.post(
        "/v1/models/<name>:predict",
        "KServe V1 prediction",
        {"200": prediction_response("predictions", schemas.labels), **schemas.plain_errors},
        json_body(schemas.instances_body("parameters")),
    )
    def v1_predict(name: str) -> Response:
        check_name(service, name)
        prediction = service.predict(
            read_instances(service.validator, 'the body must be {"instances": [...]}', "parameters")
        )
        return json_response({"predictions": prediction.predictions}, prediction_id=prediction.id)
