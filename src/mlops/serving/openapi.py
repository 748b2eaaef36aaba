"""The OpenAPI 3.1 document of the service, assembled from the routes the app declared.

Each route is declared once, by the module that serves it, with its OpenAPI operation beside its
view (routes.Routes). This module holds what those operations share: the schemas generated from
the model's input schema (`Schemas`) and the common answers; `document()` puts the declared paths
in a document with its info and components.
"""

from __future__ import annotations

from typing import Any

from mlops.serving.responses import JSON, PREDICTION_ID_HEADER

PREDICTION_ID = {
    "description": "the request's prediction id; row i of the request has the id `<this>-<i>` (from 0), "
    "the id its row has in the prediction log, which labels are joined on (mlops feedback)",
    "schema": {"type": "string"},
}
ERROR = {"$ref": "#/components/schemas/Error"}  # {"error": {"code", "message", "details"}}
PLAIN_ERROR = {"$ref": "#/components/schemas/PlainError"}  # {"error": "..."}, as KServe and V2 answer


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A request body's content: JSON of `schema`."""
    return {JSON: {"schema": schema}}


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": json_body(schema)}


def ok(description: str) -> dict[str, Any]:
    """A 200 answer that is a JSON object."""
    return json_response(description, {"type": "object"})


def error_response(description: str) -> dict[str, Any]:
    return json_response(description, ERROR)


def plain_error(description: str) -> dict[str, Any]:
    return json_response(description, PLAIN_ERROR)


def prediction_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A prediction's answer: its body, and the request's prediction id in a header."""
    return {**json_response(description, schema), "headers": {PREDICTION_ID_HEADER: PREDICTION_ID}}


class Schemas:
    """What the operations of several routes share, generated once from the served model."""

    def __init__(self, service):
        self.regression, self.classes = service.regression, service.metadata["classes"]
        self.columns = service.validator.contract  # the schemas the validator checks requests with
        self.names = list(self.columns)
        ids = self.ids = service.validator.ids
        # What a record may hold besides its columns: ids (echoed, logged) and dropped columns (ignored).
        self.optional = {
            **{name: {"description": "ignored: the model does not read it (columns.drop)"} for name in
               sorted(service.validator.optional - set(ids))},
            **{name: {"type": ["string", "integer", "null"], "description": "an id (columns.ids): optional, "
               "echoed in the answer and logged with the prediction"} for name in ids},
        }  # fmt: skip
        self.instances = {
            "type": "array",
            "items": {"oneOf": [{"$ref": "#/components/schemas/Record"}, {"$ref": "#/components/schemas/Row"}]},
            "minItems": 1,
            "maxItems": service.max_rows,
        }
        self.records = {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Record"},
            "minItems": 1,
            "maxItems": service.max_rows,
        }
        # One row's prediction, and the {"predictions": [...]} answer of MLflow, KServe V1 and Vertex.
        self.item = {"type": "number"} if service.regression else {"enum": self.classes}
        self.labels = {
            "type": "object",
            "required": ["predictions"],
            "properties": {"predictions": {"type": "array", "items": self.item}},
        }
        self.errors = {
            "400": error_response(
                "invalid JSON, text that is not Unicode, or invalid instances (details name the rows and columns)"
            ),
            "413": error_response(
                "body larger than the limit, or more rows (or values) than the most a request may hold"
            ),
            "415": error_response("the body is not of a content type the route takes"),
            "503": error_response("the model is not ready"),
        }
        self.plain_errors = {status: plain_error(answer["description"]) for status, answer in self.errors.items()}
        self.plain_errors["404"] = plain_error("no such model or version")
        self.path_parameters = {
            "name": path_parameter("name", service.name),
            "version": path_parameter("version", service.version),
        }

    def instances_body(self, *other: str) -> dict[str, Any]:
        """{"instances": [...]}, and the `other` keys as objects (accepted, ignored)."""
        return {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": self.instances, **{key: {"type": "object"} for key in other}},
            "additionalProperties": False,
        }

    def components(self) -> dict[str, Any]:
        names = self.names
        return {
            "Record": {
                "type": "object",
                "properties": {**self.columns, **self.optional},
                "required": names,
                "additionalProperties": False,
                "description": "one row as {column: value}",
            },
            "Row": {
                "type": "array",
                "prefixItems": [self.columns[name] for name in names],
                "items": False,
                "minItems": len(names),
                "maxItems": len(names),
                "description": f"one row as values in schema order: {names}",
            },
            "Prediction": prediction_schema(self.regression, self.classes),
            "PlainError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
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


def path_parameter(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "enum": [value]}}


def document(service, schemas: Schemas, paths: dict[str, Any]) -> dict[str, Any]:
    """The document of the declared `paths` (routes.Routes.paths)."""
    metadata = service.metadata
    what = "a number (regression)" if service.regression else f"one of {metadata['classes']}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{metadata['name']} prediction service",
            "version": str(metadata["version"]),
            "description": f"Predicts {metadata['schema'].get('target', 'the target')}: {what}.",
        },
        "paths": paths,
        "components": {"schemas": schemas.components()},
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
