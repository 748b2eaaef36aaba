"""The Open Inference Protocol's (KServe V2) datatypes and the shapes of its request and answer, once:
/openapi.json publishes these JSON Schemas, and open_inference.py's decoder takes the keys, the required
fields and the types of the request's scalar fields from them.
"""

from __future__ import annotations

from typing import Any

from mlops.serving.openapi import PREDICTION_ID
from mlops.serving.service import PredictionService

FLOATS = {"FP16", "FP32", "FP64"}
INTEGERS = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
NUMERIC_TYPES = FLOATS | INTEGERS
CATEGORICAL_TYPES = {"BYTES", "BOOL"} | INTEGERS
ID_TYPES = {"BYTES"} | INTEGERS
DATATYPES = NUMERIC_TYPES | {"BYTES", "BOOL"}
VALUE_TYPES = {
    **dict.fromkeys(FLOATS, (float, int, type(None))),
    **dict.fromkeys(INTEGERS, (int, type(None))),
    "BOOL": (bool, type(None)),
    "BYTES": (str, type(None)),
}
OUTPUTS = ("label", "probabilities")
REGRESSION_OUTPUTS = ("prediction",)
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        "datatype": {"enum": sorted(DATATYPES)},
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
}
OUTPUT = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
# "model_name": KServe's client sends it in the body too (the protocol has it in the URL only).
REQUEST_FIELDS = {
    "id": {"type": "string"},
    "parameters": {"type": "object"},
    "inputs": {"type": "array", "items": TENSOR, "minItems": 1},
    "outputs": {"type": "array", "items": OUTPUT},
    "model_name": {"type": "string"},
}
JSON_TYPES = {"string": (str, "a string"), "object": (dict, "an object")}  # for the checks of id and parameters


def request_schema(service: PredictionService) -> dict[str, Any]:
    """The request's JSON Schema, its names narrowed to this model's: REQUEST_FIELDS and TENSOR."""
    outputs = REGRESSION_OUTPUTS if service.regression else OUTPUTS
    output = {**OUTPUT, "properties": {"name": {"enum": [*outputs, *service.validator.ids]}}}
    return {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            **REQUEST_FIELDS,
            "outputs": {"type": "array", "items": output},
            "model_name": {"enum": [service.name]},
        },
        "additionalProperties": False,
    }


def response_schema() -> dict[str, Any]:
    return {
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
            "outputs": {"type": "array", "items": {**TENSOR, "properties": {**TENSOR["properties"], "parameters": {}}}},
        },
    }
