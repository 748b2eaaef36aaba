"""Vertex AI's custom-container contract: health and prediction on the routes Vertex names.

Vertex sets AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE (and AIP_HTTP_PORT, see
gunicorn_conf.py); without them this adapter adds no routes. The health route answers 200
once the model is loaded and passed its self-test, else 503. The prediction route takes
{"instances": [...], "parameters": {...}} (parameters are accepted and ignored) and answers
{"predictions": [class per row]}, with the request's prediction id in the X-Prediction-Id
header (Vertex's `predict` method returns only the body; `rawPredict` returns the answer as the
service gave it). A route the service already has (say /ready or /predict) is left as it is.
"""

from __future__ import annotations

import os

from flask import Flask, Response

from mlops.serving.responses import json_response, read_json_body
from mlops.serving.runtime import StartupError
from mlops.serving.service import PredictionService
from mlops.serving.validation import RequestError

HEALTH_ROUTE = "AIP_HEALTH_ROUTE"
PREDICT_ROUTE = "AIP_PREDICT_ROUTE"


def route(environ, name: str) -> str:
    value = environ.get(name, "").strip()
    if value and (not value.startswith("/") or "<" in value or ">" in value):
        raise StartupError(f"{name}={value!r} must be a URL path starting with '/' (without '<' or '>')")
    return value


def register(app: Flask, service: PredictionService, environ=os.environ) -> None:
    health_route, predict_route = route(environ, HEALTH_ROUTE), route(environ, PREDICT_ROUTE)
    taken = {rule.rule for rule in app.url_map.iter_rules()}

    if health_route and health_route not in taken:

        def health() -> Response:
            if not service.ready:
                raise RequestError(503, "model_not_ready", service.problem)
            return json_response({"status": "ready"})

        app.add_url_rule(health_route, "vertex_health", health, methods=["GET"])

    if predict_route and predict_route not in taken:

        def predict() -> Response:
            body = read_json_body(service.validator.max_json_values)
            if type(body) is not dict or "instances" not in body or set(body) - {"instances", "parameters"}:
                raise RequestError(400, "invalid_request", 'the body must be {"instances": [...], "parameters": {...}}')
            prediction = service.predict(service.validator.instances(body["instances"]))
            return json_response({"predictions": prediction.predictions}, prediction_id=prediction.id)

        app.add_url_rule(predict_route, "vertex_predict", predict, methods=["POST"])
