"""Vertex AI's custom-container contract: health and prediction on the routes Vertex names.

Vertex sets AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE (and AIP_HTTP_PORT, see
gunicorn_conf.py); without them this adapter adds no routes. The health route answers 200
once the model is loaded and passed its self-test, else 503. The prediction route takes
{"instances": [...], "parameters": {...}} (parameters are accepted and ignored) and answers
{"predictions": [class per row]}, with the request's prediction id in the X-Prediction-Id
header (Vertex's `predict` method returns only the body; `rawPredict` returns the answer as the
service gave it). A route the service already has (say /ready or /predict) is left as it is:
this adapter registers last.
"""

from __future__ import annotations

import os

from flask import Response

from mlops.exported import StartupError
from mlops.serving.openapi import error_response, json_body, ok, prediction_response
from mlops.serving.responses import json_response, read_instances
from mlops.serving.routes import Routes
from mlops.serving.service import PredictionService

HEALTH_ROUTE = "AIP_HEALTH_ROUTE"
PREDICT_ROUTE = "AIP_PREDICT_ROUTE"


def route(environ, name: str) -> str:
    value = environ.get(name, "").strip()
    if value and (not value.startswith("/") or "<" in value or ">" in value):
        raise StartupError(f"{name}={value!r} must be a URL path starting with '/' (without '<' or '>')")
    return value


def register(routes: Routes, service: PredictionService, environ=os.environ) -> None:
    health_route, predict_route = route(environ, HEALTH_ROUTE), route(environ, PREDICT_ROUTE)
    taken, schemas = routes.taken(), routes.schemas

    def health() -> Response:
        service.check_ready()
        return json_response({"status": "ready"})

    def predict() -> Response:
        instances = read_instances(
            service.validator, 'the body must be {"instances": [...], "parameters": {...}}', "parameters"
        )
        prediction = service.predict(instances)
        return json_response({"predictions": prediction.predictions}, prediction_id=prediction.id)

    if health_route and health_route not in taken:
        responses = {"200": ok("ready"), "503": error_response("not ready")}
        routes.add("GET", health_route, health, "Vertex AI health", responses, endpoint="vertex_health")
    if predict_route and predict_route not in taken:
        responses = {"200": prediction_response("predictions", schemas.labels), **schemas.errors}
        body = json_body(schemas.instances_body("parameters"))
        routes.add("POST", predict_route, predict, "Vertex AI prediction", responses, body, "vertex_predict")
