"""The OpenAPI 3.1 document of the service, with request schemas generated from the model's input schema.

It covers every route the app has: this service's, MLflow/SageMaker's, KServe V1, the Open
Inference Protocol V2 and, when Vertex AI set them, Vertex's routes.
"""

from __future__ import annotations

from typing import Any

from mlops.serving import open_inference
from mlops.serving.responses import PREDICTION_ID_HEADER

JSON = "application/json"


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def prediction_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A prediction's answer: its body, and the request's prediction id in a header."""
    return {**json_response(description, schema), "headers": {PREDICTION_ID_HEADER: PREDICTION_ID}}


PREDICTION_ID = {
    "description": "the request's prediction id; row i of the request has the id `<this>-<i>` (from 0), "
    "the id its row has in the prediction log, which labels are joined on (mlops feedback)",
    "schema": {"type": "string"},
}


def document(service, app) -> dict[str, Any]:
    metadata, max_rows = service.metadata, service.max_rows
    columns = service.validator.contract  # the schemas the validator checks requests with
    names = list(columns)
    classes = metadata["classes"]
    item = {"type": "number"} if service.regression else {"enum": classes}  # one row's prediction
    what = "a number (regression)" if service.regression else f"one of {classes}"
    ids = service.validator.ids
    optional = {
        **{name: {"description": "ignored: the model does not read it (columns.drop)"} for name in
           sorted(service.validator.optional - set(ids))},
        **{name: {"type": ["string", "integer", "null"], "description": "an id (columns.ids): optional, "
           "echoed in the answer and logged with the prediction"} for name in ids},
    }  # fmt: skip
    record = {
        "type": "object",
        "properties": {**columns, **optional},
        "required": names,
        "additionalProperties": False,
        "description": "one row as {column: value}",
    }
    row = {
        "type": "array",
        "prefixItems": [columns[name] for name in names],
        "items": False,
        "minItems": len(names),
        "maxItems": len(names),
        "description": f"one row as values in schema order: {names}",
    }
    instances = {
        "type": "array",
        "items": {"oneOf": [{"$ref": "#/components/schemas/Record"}, {"$ref": "#/components/schemas/Row"}]},
        "minItems": 1,
        "maxItems": max_rows,
    }
    records = {"type": "array", "items": {"$ref": "#/components/schemas/Record"}, "minItems": 1, "maxItems": max_rows}
    invocation = {
        "description": "the MLflow scoring protocol; exactly one of these keys",
        "oneOf": [
            {
                "type": "object",
                "required": ["dataframe_split"],
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "required": ["columns", "data"],
                        "properties": {
                            "columns": {"type": "array", "items": {"enum": names}, "uniqueItems": True},
                            "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
                        },
                    },
                    "params": {"type": "object"},
                },
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["dataframe_records"],
                "properties": {"dataframe_records": records, "params": {"type": "object"}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["instances"],
                "properties": {"instances": instances, "params": {"type": "object"}},
                "additionalProperties": False,
            },
            {
                "type": "object",
                "required": ["inputs"],
                "properties": {"inputs": instances, "params": {"type": "object"}},
                "additionalProperties": False,
            },
        ],
    }
    bad_request = {
        "400": error_response(
            "invalid JSON, text that is not Unicode, or invalid instances (details name the rows and columns)"
        ),
        "413": error_response("body larger than the limit, or more rows (or values) than the most a request may hold"),
        "415": error_response("the body is not application/json"),
        "503": error_response("the model is not ready"),
    }
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{metadata['name']} prediction service",
            "version": str(metadata["version"]),
            "description": f"Predicts {metadata['schema'].get('target', 'the target')}: {what}.",
        },
        "paths": {
            "/predict": {
                "post": {
                    "summary": "Predict the number of each row"
                    if service.regression
                    else "Predict the class and class probabilities of each row",
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": {
                                    "type": "object",
                                    "required": ["instances"],
                                    "properties": {"instances": instances},
                                    "additionalProperties": False,
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": prediction_response("predictions", {"$ref": "#/components/schemas/Prediction"}),
                        **bad_request,
                    },
                }
            },
            "/invocations": {
                "post": {
                    "summary": "Predict (MLflow scoring protocol, as used by MLflow clients and SageMaker)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {"schema": invocation},
                            "text/csv": {
                                "schema": {"type": "string"},
                                "description": "rows without a header, values in schema order",
                            },
                        },
                    },
                    "responses": {
                        "200": prediction_response(
                            "predictions",
                            {
                                "type": "object",
                                "required": ["predictions"],
                                "properties": {"predictions": {"type": "array", "items": item}},
                            },
                        ),
                        **bad_request,
                    },
                }
            },
            **platform_paths(service, app, instances, item, bad_request),
            "/ping": {
                "get": {
                    "summary": "200 when the model is ready (SageMaker health check)",
                    "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}},
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness: the process answers",
                    "responses": {"200": json_response("alive", {"type": "object"})},
                }
            },
            "/ready": {
                "get": {
                    "summary": "Readiness: the model is loaded and passed a self-test prediction",
                    "responses": {
                        "200": json_response("ready", {"type": "object"}),
                        "503": error_response("not ready"),
                    },
                }
            },
            "/metadata": {
                "get": {
                    "summary": "The model: task, version, commit, dataset hash, metrics, input schema, classes",
                    "responses": {"200": json_response("model metadata", {"type": "object"})},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "Prometheus text format", "content": text}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": json_response("OpenAPI 3.1 document", {"type": "object"})},
                }
            },
        },
        "components": {
            "schemas": {
                "Record": record,
                "Row": row,
                "Prediction": prediction_schema(service.regression, classes),
                "PlainError": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "details"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
                        }
                    },
                },
            }
        },
    }


def prediction_schema(regression: bool, classes: list[str]) -> dict[str, Any]:
    """The answer of /predict: numbers for regression; classes and their probabilities otherwise."""
    common = {
        "model_version": {"type": "string"},
        "prediction_ids": {
            "type": "array",
            "items": {"type": "string"},
            "description": "per row, its prediction id (as the prediction log has it)",
        },
        "ids": {
            "type": "array",
            "items": {"type": "object"},
            "description": "per row, its id columns (columns.ids) as given; only when the model has ids",
        },
    }
    if regression:
        return {
            "type": "object",
            "required": ["predictions", "model_version", "prediction_ids"],
            "properties": {"predictions": {"type": "array", "items": {"type": "number"}}, **common},
        }
    return {
        "type": "object",
        "required": ["predictions", "probabilities", "classes", "model_version", "prediction_ids"],
        "properties": {
            "predictions": {"type": "array", "items": {"enum": classes}},
            "probabilities": {
                "type": "array",
                "items": {"type": "array", "items": {"type": "number"}},
                "description": f"per row, one probability per class in the order {classes}",
            },
            "classes": {"type": "array", "items": {"type": "string"}},
            **common,
        },
    }


def plain_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/PlainError"}}}}


def platform_paths(service, app, instances, item, bad_request) -> dict[str, Any]:
    """KServe V1, Open Inference Protocol V2 and Vertex AI routes; `item`: the schema of one row's prediction."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": [service.name]}}
    version = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [service.version]},
    }
    plain = {status: plain_error(answer["description"]) for status, answer in bad_request.items()}
    plain["404"] = plain_error("no such model or version")
    labels = {
        "type": "object",
        "required": ["predictions"],
        "properties": {"predictions": {"type": "array", "items": item}},
    }
    instances_body = {
        "type": "object",
        "required": ["instances"],
        "properties": {"instances": instances, "parameters": {"type": "object"}},
        "additionalProperties": False,
    }
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
            "datatype": {"enum": sorted(open_inference.DATATYPES)},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
    }
    outputs = open_inference.REGRESSION_OUTPUTS if service.regression else open_inference.OUTPUTS
    infer_request = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"enum": list(outputs)}},
                },
            },
        },
        "additionalProperties": False,
    }
    infer_response = {
        "type": "object",
        "required": ["model_name", "id", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {
                    "prediction_id": PREDICTION_ID["schema"] | {"description": PREDICTION_ID["description"]}
                },
            },
            "outputs": {"type": "array", "items": {**tensor, "properties": {**tensor["properties"], "parameters": {}}}},
        },
    }
    ok = lambda description: json_response(description, {"type": "object"})  # noqa: E731
    readiness = {"200": ok("ready"), "503": plain_error("not ready")}

    def get(summary, responses, parameters=()):
        return {"get": {"summary": summary, "parameters": list(parameters), "responses": responses}}

    def post(summary, schema, response, parameters=(), errors=plain):
        return {
            "post": {
                "summary": summary,
                "parameters": list(parameters),
                "requestBody": {"required": True, "content": {JSON: {"schema": schema}}},
                "responses": {"200": response, **errors},
            }
        }

    infer = post(
        "Open Inference Protocol inference", infer_request, prediction_response("outputs", infer_response), [name]
    )
    infer_versioned = {"post": {**infer["post"], "parameters": [name, version]}}
    paths = {
        "/": get("KServe V1 liveness", {"200": ok("alive")}),
        "/v1/models": get("KServe V1: the models served", {"200": ok("model names")}),
        "/v1/models/{name}": get("KServe V1: is the model ready", readiness, [name]),
        "/v1/models/{name}:predict": post(
            "KServe V1 prediction", instances_body, prediction_response("predictions", labels), [name]
        ),
        "/v2": get("Open Inference Protocol: server metadata", {"200": ok("server metadata")}),
        "/v2/health/live": get("Open Inference Protocol: liveness", {"200": ok("live")}),
        "/v2/health/ready": get("Open Inference Protocol: readiness", readiness),
        "/v2/models/{name}": get("Open Inference Protocol: model metadata", {"200": ok("inputs and outputs")}, [name]),
        "/v2/models/{name}/versions/{version}": get(
            "Open Inference Protocol: model metadata", {"200": ok("inputs and outputs")}, [name, version]
        ),
        "/v2/models/{name}/ready": get("Open Inference Protocol: model readiness", readiness, [name]),
        "/v2/models/{name}/versions/{version}/ready": get(
            "Open Inference Protocol: model readiness", readiness, [name, version]
        ),
        "/v2/models/{name}/infer": infer,
        "/v2/models/{name}/versions/{version}/infer": infer_versioned,
    }
    endpoints = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    if "vertex_health" in endpoints:
        paths[endpoints["vertex_health"]] = get(
            "Vertex AI health", {"200": ok("ready"), "503": error_response("not ready")}
        )
    if "vertex_predict" in endpoints:
        paths[endpoints["vertex_predict"]] = post(
            "Vertex AI prediction", instances_body, prediction_response("predictions", labels), errors=bad_request
        )
    return paths
