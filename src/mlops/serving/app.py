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

from mlops.monitoring import drift_gauge
from mlops.serving import invocations, kserve_v1, open_inference, openapi, vertex
from mlops.serving.metrics import CONTENT_TYPE
from mlops.serving.responses import json_response, read_json_body
from mlops.serving.runtime import StartupError
from mlops.serving.service import PredictionService, as_rows
from mlops.serving.validation import RequestError

HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
PLAIN_ERROR_PREFIXES = (kserve_v1.ERROR_PREFIX, open_inference.ERROR_PREFIX)


def error_response(status: int, code: str, message: str, details=None) -> Response:
    path = request.path
    if path.startswith(PLAIN_ERROR_PREFIXES):
        return json_response({"error": message}, status)
    return json_response({"error": {"code": code, "message": message, "details": details}}, status)


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

    @app.post("/predict")
    def predict_route() -> Response:
        body = read_json_body(service.validator.max_json_values)
        if type(body) is not dict or "instances" not in body or len(body) != 1:
            raise RequestError(
                400,
                "invalid_request",
                'the body must be {"instances": [...]}: a list of {column: value} objects or rows',
            )
        columns = service.validator.instances(body["instances"])
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

    @app.get("/health")
    def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/ready")
    def ready() -> Response:
        service.check_ready()
        return json_response({"status": "ready", "model": metadata["name"], "model_version": version})

    @app.get("/metadata")
    def metadata_route() -> Response:
        return json_response(public_metadata)

    @app.get("/metrics")
    def metrics_route() -> Response:
        body = metrics.exposition() + drift_gauge.metrics_text().encode()
        return Response(body, mimetype=None, content_type=CONTENT_TYPE)

    invocations.register(app, service)
    kserve_v1.register(app, service)
    open_inference.register(app, service)
    vertex.register(app, service)
    spec = json.dumps(openapi.document(service, app))

    @app.get("/openapi.json")
    def openapi_route() -> Response:
        return Response(spec, mimetype="application/json")

    @app.errorhandler(RequestError)
    def request_error(exc: RequestError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

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
