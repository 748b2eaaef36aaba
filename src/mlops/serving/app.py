"""The Flask app: `create_app()` loads the model once and returns the WSGI app gunicorn runs.

Configuration comes from the environment (see docs/serving.md):
  MLOPS_MODEL_DIR        the directory the export stage wrote (default: models)
  MLOPS_MAX_BATCH_ROWS   most rows per request (default: serve.max_batch_rows from metadata.json)
  MLOPS_MAX_BODY_BYTES   largest request body (default: 16 MiB)

Every error is JSON, {"error": {"code", "message", "details"}}, with a 4xx status (503
while the model is not ready); a bug becomes a logged traceback and a bare 500, never a
traceback in the response.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from mlops.monitoring import drift_gauge
from mlops.monitoring.prediction_log import PredictionLog
from mlops.serving import openapi, runtime
from mlops.serving.metrics import CONTENT_TYPE, Metrics
from mlops.serving.runtime import StartupError
from mlops.serving.validation import RequestError, Validator

DEFAULT_MODEL_DIR = "models"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StartupError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise StartupError(f"{name}={raw!r} must be positive")
    return value


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, mimetype="application/json")


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "details": details}}, status)


def read_json_body() -> Any:
    if request.mimetype != "application/json":
        raise RequestError(
            415,
            "unsupported_media_type",
            f"the body must be JSON sent with Content-Type: application/json, not {request.mimetype or 'none'!r}",
        )
    body = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: werkzeug raises 413
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def as_rows(columns: dict[str, list]) -> list[dict[str, Any]]:
    """Validated columns back to {column: value} rows for the prediction log; NaN becomes null."""
    names = list(columns)
    return [
        {name: None if value != value else value for name, value in zip(names, values, strict=True)}
        for values in zip(*columns.values(), strict=True)
    ]


def create_app(model_dir: str | Path | None = None) -> Flask:
    """Load the model (StartupError if it cannot be served) and build the app around it."""
    model_dir = Path(model_dir or os.environ.get("MLOPS_MODEL_DIR") or DEFAULT_MODEL_DIR)
    metadata, predictor = runtime.load(model_dir)
    max_rows = env_int("MLOPS_MAX_BATCH_ROWS", int(metadata.get("max_batch_rows") or 10_000))
    max_body = env_int("MLOPS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
    validator = Validator(metadata, max_rows)
    version = str(metadata["version"])
    classes = list(metadata["classes"])
    problem = runtime.self_test(metadata, predictor)
    metrics = Metrics(str(metadata["name"]), version)
    spec = json.dumps(openapi.document(metadata, max_rows))
    public_metadata = {
        **metadata,
        "limits": {"max_batch_rows": max_rows, "max_body_bytes": max_body},
    }

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max_body

    prediction_log = PredictionLog.from_env()  # None unless MLOPS_PREDICTION_LOG_DIR is set
    app.extensions["mlops"] = {"metadata": metadata, "ready_problem": problem, "prediction_log": prediction_log}

    def predict(columns: dict[str, list]) -> tuple[list[str], list[list[float]]]:
        if problem:
            raise RequestError(503, "model_not_ready", problem)
        labels, probabilities = predictor.predict(columns)
        metrics.count_predictions(labels)
        probabilities = np.asarray(probabilities, dtype=np.float64).round(6).tolist()
        if prediction_log is not None:
            prediction_log.record(as_rows(columns), labels, probabilities, version)
        return labels, probabilities

    @app.before_request
    def start_timer() -> None:
        request.environ["mlops.started"] = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        started = request.environ.get("mlops.started")
        if started is not None:
            rule = request.url_rule
            route = rule.rule if rule is not None else "unmatched"
            metrics.observe_request(route, str(response.status_code), time.perf_counter() - started)
        return response

    @app.post("/predict")
    def predict_route() -> Response:
        body = read_json_body()
        if type(body) is not dict or "instances" not in body or len(body) != 1:
            raise RequestError(
                400,
                "invalid_request",
                'the body must be {"instances": [...]}: a list of {column: value} objects or rows',
            )
        labels, probabilities = predict(validator.instances(body["instances"]))
        return json_response(
            {"predictions": labels, "probabilities": probabilities, "classes": classes, "model_version": version}
        )

    @app.post("/invocations")
    def invocations() -> Response:
        body = read_json_body()
        keys = [key for key in MLFLOW_KEYS if type(body) is dict and key in body]
        extra = (
            sorted(str(key) for key in body if key not in MLFLOW_KEYS and key != "params") if type(body) is dict else []
        )
        if len(keys) != 1 or extra:
            raise RequestError(
                400,
                "invalid_request",
                f"the body must be a JSON object with exactly one of {', '.join(MLFLOW_KEYS)}",
                {"found": keys, "unknown": extra},
            )
        key, value = keys[0], body[keys[0]]
        if key == "dataframe_split":
            columns = validator.split(value)
        elif key in ("instances", "inputs") and type(value) is dict:
            columns = validator.columnar(value, key)
        else:
            columns = validator.instances(value, key)
        labels, _ = predict(columns)
        return json_response({"predictions": labels})

    @app.get("/ping")
    def ping() -> Response:
        return Response("", status=503 if problem else 200, mimetype="text/plain")

    @app.get("/health")
    def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/ready")
    def ready() -> Response:
        if problem:
            return error_response(503, "model_not_ready", problem)
        return json_response({"status": "ready", "model": metadata["name"], "model_version": version})

    @app.get("/metadata")
    def metadata_route() -> Response:
        return json_response(public_metadata)

    @app.get("/metrics")
    def metrics_route() -> Response:
        body = metrics.exposition() + drift_gauge.metrics_text().encode()
        return Response(body, mimetype=None, content_type=CONTENT_TYPE)

    @app.get("/openapi.json")
    def openapi_route() -> Response:
        return Response(spec, mimetype="application/json")

    @app.errorhandler(RequestError)
    def request_error(exc: RequestError) -> Response:
        return json_response(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 400
        response = error_response(status, HTTP_CODES.get(status, "http_error"), exc.description or exc.name)
        if status == 413:
            response = error_response(
                413, "payload_too_large", f"the body is larger than {max_body} bytes: split the batch"
            )
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "unexpected error; the service log has the details")

    return app
