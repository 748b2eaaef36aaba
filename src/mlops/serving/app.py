"""The Flask app: `create_app()` loads the model once and returns the WSGI app gunicorn runs.

The service's own routes are here; each other protocol is an adapter module around the same
`PredictionService`: invocations (MLflow, SageMaker), kserve_v1, open_inference (V2), vertex.
Configuration comes from the environment (see docs/serving.md):
  MLOPS_MODEL_DIR        the directory the export stage wrote (default: models)
  MLOPS_MODEL_NAME       the model's name in KServe and V2 URLs (default: the registered model's)
  MLOPS_MAX_BATCH_ROWS   most rows per request (default: serve.max_batch_rows from metadata.json)
  MLOPS_MAX_BODY_BYTES   largest request body (default: 16 MiB)
  AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE   Vertex AI's routes, when Vertex sets them

Every error is JSON with a 4xx status (503 while the model is not ready):
{"error": {"code", "message", "details"}}, or {"error": "message"} under /v1/models and /v2 as
KServe and the Open Inference Protocol say. A bug becomes a logged traceback and a bare
500, never a traceback in the response.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from mlops.exported import StartupError
from mlops.serving import invocations, kserve_v1, open_inference, openapi, vertex
from mlops.serving.metrics import CONTENT_TYPE
from mlops.serving.openapi import Schemas, json_body, ok, prediction_response
from mlops.serving.responses import json_response, read_instances
from mlops.serving.routes import Routes
from mlops.serving.service import PredictionService, as_rows
from mlops.serving.validation import RequestError

# The protocol adapters: each module's register(routes, service) adds its routes with their OpenAPI
# operations; PLAIN_ERRORS, when it has one, is the path under which its errors are {"error": "..."}.
# Vertex AI's comes last: it leaves alone a route the others have.
ADAPTERS = (invocations, kserve_v1, open_inference, vertex)
PLAIN_ERROR_PREFIXES = tuple(adapter.PLAIN_ERRORS for adapter in ADAPTERS if hasattr(adapter, "PLAIN_ERRORS"))
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(path: str, error: RequestError) -> dict:
    """The error's body in the form of the protocol that serves `path`."""
    return error.body(plain=path.startswith(PLAIN_ERROR_PREFIXES))


def error_response(status: int, code: str, message: str, details=None) -> Response:
    return json_response(error_body(request.path, RequestError(status, code, message, details)), status)


def worker_app() -> Flask:
    """The app of a gunicorn worker, built from the model the master read (gunicorn_conf.py's wsgi_app).

    A worker that cannot build it leaves with one line and exit status 1, after a second's
    pause, and the master starts another: gunicorn's own boot-error exit would make the
    master stop every worker, healthy ones too.
    """
    try:
        return create_app()
    except Exception as exc:  # anything: this worker goes, the others keep serving
        problem = str(exc) if isinstance(exc, StartupError) else f"{type(exc).__name__}: {exc}"
        print(f"mlops serve: error: worker {os.getpid()} could not load the model: {problem}", file=sys.stderr)
        sys.stderr.flush()
        time.sleep(1)  # a worker that fails again is replaced at most once a second
        os._exit(1)


def create_app(model_dir: str | Path | None = None) -> Flask:
    """Load the model (StartupError if it cannot be served) and build the app around it."""
    service = PredictionService(model_dir)
    metadata, version, classes = service.metadata, service.version, service.classes
    public_metadata = {
        **metadata,
        "limits": {"max_batch_rows": service.max_rows, "max_body_bytes": service.max_body},
    }

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = service.max_body
    app.extensions["mlops"] = {"service": service, "prediction_log": service.prediction_log}
    metrics = service.metrics

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

    routes = Routes(app, Schemas(service))
    schemas = routes.schemas
    predict_body = json_body(schemas.instances_body())
    predicted = {"200": prediction_response("predictions", {"$ref": "#/components/schemas/Prediction"})}
    what = "the number" if service.regression else "the class and class probabilities"

    @routes.post("/predict", f"Predict {what} of each row", {**predicted, **schemas.errors}, predict_body)
    def predict_route() -> Response:
        columns = read_instances(
            service.validator,
            'the body must be {"instances": [...]}: a list of {column: value} objects or rows',
        )
        prediction = service.predict(columns)
        if service.regression:
            answer = {"predictions": prediction.predictions}
        else:
            answer = {
                "predictions": prediction.predictions,
                "probabilities": prediction.probabilities,
                "classes": classes,
            }
        if service.validator.ids:  # each row's ids as the request gave them (null where it gave none)
            answer["ids"] = as_rows({name: columns[name] for name in service.validator.ids})
        return json_response(
            {**answer, "model_version": version, "prediction_ids": prediction.ids}, prediction_id=prediction.id
        )

    @routes.get("/health", "Liveness: the process answers", {"200": ok("alive")})
    def health() -> Response:
        return json_response({"status": "ok"})

    ready_answers = {"200": ok("ready"), "503": openapi.error_response("not ready")}

    @routes.get("/ready", "Readiness: the model is loaded and passed a self-test prediction", ready_answers)
    def ready() -> Response:
        service.check_ready()
        return json_response({"status": "ready", "model": metadata["name"], "model_version": version})

    about = "The model: task, version, commit, dataset hash, metrics, input schema, classes"

    @routes.get("/metadata", about, {"200": ok("model metadata")})
    def metadata_route() -> Response:
        return json_response(public_metadata)

    text = {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}

    @routes.get("/metrics", "Prometheus metrics", {"200": text})
    def metrics_route() -> Response:
        return Response(metrics.exposition(), mimetype=None, content_type=CONTENT_TYPE)

    for adapter in ADAPTERS:
        adapter.register(routes, service)

    @routes.get("/openapi.json", "This document", {"200": ok("OpenAPI 3.1 document")})
    def openapi_route() -> Response:
        return Response(spec, mimetype="application/json")

    spec = json.dumps(openapi.document(service, schemas, routes.paths))  # every route is declared by now

    @app.errorhandler(RequestError)
    def request_error(exc: RequestError) -> Response:
        return json_response(error_body(request.path, exc), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 400
        response = error_response(status, HTTP_CODES.get(status, "http_error"), exc.description or exc.name)
        if status == 413:
            response = error_response(
                413, "payload_too_large", f"the body is larger than {service.max_body} bytes: split the batch"
            )
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "unexpected error; the service log has the details")

    return app
