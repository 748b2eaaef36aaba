"""The Open Inference Protocol (KServe V2; also spoken by Triton and Seldon MLServer), REST over JSON.

  GET  /v2                                         server metadata
  GET  /v2/health/live, /v2/health/ready           {"live": true}, {"ready": true} (503 until ready)
  GET  /v2/models/<name>[/versions/<v>]            inputs and outputs: name, datatype, shape
  GET  /v2/models/<name>[/versions/<v>]/ready      {"name", "ready"}
  POST /v2/models/<name>[/versions/<v>]/infer      {"id"?, "parameters"?, "inputs": [...], "outputs"?}

Inputs: one per column, named as the column, shape [N] or [N, 1] (numeric columns FP32,
FP64 or an integer type; categorical columns BYTES, BOOL or an integer type), or, when
every column is numeric, one [N, F] tensor of any name with the columns in schema order.
`data` is flat (row-major) or nested as the shape says; null is a missing value, and so is
NaN in a float tensor (tritonclient writes a missing float as NaN). Outputs:
`label` (BYTES, [N]) and `probabilities` (FP32, [N, classes], in the order /v2/models/<name>
lists under parameters.classes); for a regression model, `prediction` (FP64, [N]). An id column
(columns.ids; /v2/models/<name> lists them under parameters.ids) may come as one more input
named as the column, [N] or [N, 1], BYTES or an integer type: the model never reads it, and the
answer gives it back as an output of the same name, datatype and values (asked for by name in
`outputs` like the others), and the prediction log has it. The
answer's `id` is the request's, or else the prediction id; `parameters.prediction_id` and the
X-Prediction-Id header are the prediction id either way (row i's is `<prediction_id>-<i>`).
Errors are {"error": "..."}. Tensors may also come and go as raw bytes after the JSON, as
tritonclient sends them with binary_data=True: the binary tensor data extension (binary_tensors.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from flask import Response, request

from mlops.serving import binary_tensors
from mlops.serving.binary_tensors import Binary
from mlops.serving.openapi import json_body, ok, plain_error, prediction_response
from mlops.serving.responses import json_response, read_json_body
from mlops.serving.routes import Routes
from mlops.serving.service import Prediction, PredictionService
from mlops.serving.v2_schema import (
    CATEGORICAL_TYPES,
    DATATYPES,
    FLOATS,
    ID_TYPES,
    INTEGERS,
    JSON_TYPES,
    NUMERIC_TYPES,
    OUTPUTS,
    REGRESSION_OUTPUTS,
    REQUEST_FIELDS,
    TENSOR,
    VALUE_TYPES,
    request_schema,
    response_schema,
)
from mlops.serving.validation import RequestError

PLAIN_ERRORS = "/v2"  # errors under this path are {"error": "..."}


def bad(message: str, status: int = 400, code: str = "invalid_request") -> RequestError:
    return RequestError(status, code, message)


def check_model(service: PredictionService, name: str, version: str | None) -> None:
    if name != service.name:
        raise bad(f"no model {name!r} here; this server serves {service.name!r}", 404, "model_not_found")
    if version is not None and version != service.version:
        raise bad(f"model {name!r} has no version {version!r}; it has {service.version!r}", 404, "version_not_found")


def model_metadata(service: PredictionService) -> dict[str, Any]:
    validator = service.validator
    inputs = [
        {"name": name, "datatype": "FP32" if numeric else "BYTES", "shape": [-1]}
        for name, numeric in zip(validator.columns, validator.numeric, strict=True)
    ]
    if service.regression:
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
        parameters = {"task": "regression"}
    else:
        outputs = [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(service.classes)]},
        ]
        parameters = {"task": "classification", "classes": service.classes}
    if validator.ids:  # optional inputs, echoed as outputs of the same name
        parameters["ids"] = validator.ids
    platform = "onnxruntime_onnx" if service.metadata["runtime"] == "onnx" else "sklearn_skops"
    return {
        "name": service.name,
        "versions": [service.version],
        "platform": platform,
        "inputs": inputs,
        "outputs": outputs,
        "parameters": parameters,
    }


def flatten(data: Any, shape: list[int], where: str) -> list:
    """`data` as a flat row-major list: flat already, or nested as deep as `shape` says."""
    if type(data) is not list:
        raise bad(f"{where}: data must be a JSON array")
    flat = data
    for _ in range(len(shape) - 1):
        if not flat or type(flat[0]) is not list:
            break
        if not all(type(item) is list for item in flat):
            raise bad(f"{where}: data mixes arrays and values")
        flat = [value for item in flat for value in item]
    if any(type(value) in (list, dict) for value in flat):
        raise bad(f"{where}: data is nested deeper than its shape {shape}")
    expected = math.prod(shape)
    if len(flat) != expected:
        raise bad(f"{where}: shape {shape} holds {expected} values, data has {len(flat)}")
    return flat


def check_values(values: list, datatype: str, where: str) -> list:
    """The values, if each fits the datatype (null, a missing value, fits any); BOOL becomes its text."""
    allowed = VALUE_TYPES[datatype]
    if not all(type(value) in allowed for value in values):
        index = next(i for i, value in enumerate(values) if type(value) not in allowed)
        raise bad(f"{where}: value {index} ({str(values[index])[:40]!r}) does not fit datatype {datatype}")
    if datatype == "BOOL":
        return [None if value is None else str(value) for value in values]
    if datatype in FLOATS and any(value != value for value in values):
        return [None if value != value else value for value in values]  # NaN: tritonclient's missing value
    return values


def decode_input(item: Any, index: int) -> tuple[str, list[int], str, Any]:
    if type(item) is not dict:
        raise bad(f"inputs[{index}] must be an object with name, shape, datatype and data")
    parameters = item.get("parameters")
    if type(parameters) is dict and "binary_data_size" in parameters and type(item.get("data")) is not Binary:
        raise bad(
            f"inputs[{index}] has parameters.binary_data_size, but the request has no {binary_tensors.HEADER} "
            "header: send the JSON's length in it and the tensor's bytes after the JSON, or send data as JSON"
        )
    missing = [key for key in TENSOR["required"] if key not in item]
    unknown = sorted(str(key) for key in item if key not in TENSOR["properties"])
    if missing or unknown:
        raise bad(f"inputs[{index}]: missing {missing}, unknown {unknown}; it takes name, shape, datatype, data")
    name, shape, datatype = item["name"], item["shape"], item["datatype"]
    if type(name) is not str:
        raise bad(f"inputs[{index}].name must be a string")
    if type(shape) is not list or not shape or not all(type(n) is int and n >= 0 for n in shape):
        raise bad(f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}")
    if type(datatype) is not str or datatype not in DATATYPES:
        raise bad(f"input {name!r}: datatype {datatype!r} is not one of {sorted(DATATYPES)}")
    return name, shape, datatype, item["data"]


def check_request(body: Any, service: PredictionService) -> None:
    """A 400 unless `body` is an object of REQUEST_FIELDS with a non-empty list of inputs."""
    if type(body) is not dict or type(body.get("inputs")) is not list or not body["inputs"]:
        raise bad('the body must be {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    unknown = sorted(str(key) for key in body if key not in REQUEST_FIELDS)
    if unknown:
        raise bad(f"unknown field(s) {unknown}; a request has id, parameters, inputs, outputs")
    if "model_name" in body and body["model_name"] != service.name:
        raise bad(f"model_name {body['model_name']!r} is not the model in the URL, {service.name!r}")
    for key in ("id", "parameters"):
        kind, what = JSON_TYPES[REQUEST_FIELDS[key]["type"]]
        if key in body and type(body[key]) is not kind:
            raise bad(f"{key} must be {what}")


def decode(body: Any, service: PredictionService) -> tuple[dict[str, list], list[str], dict[str, str]]:
    """(validated columns, requested output names, {id input: its datatype}) from an inference request body."""
    check_request(body, service)
    inputs = [decode_input(item, index) for index, item in enumerate(body["inputs"])]
    validator = service.validator
    rest = [item for item in inputs if item[0] not in validator.ids]
    rows = rest[0][1][0] if rest else None
    ids = decode_ids([item for item in inputs if item[0] in validator.ids], rows, service)
    outputs = requested_outputs(body.get("outputs"), service, list(ids))
    datatypes = {name: datatype for name, _, datatype, _ in inputs if name in ids}
    if len(rest) == 1 and len(rest[0][1]) == 2 and rest[0][0] not in validator.columns:
        return decode_tensor(*rest[0], service, ids), outputs, datatypes
    return decode_columns(rest, service, ids), outputs, datatypes


def decode_ids(inputs: list[tuple[str, list[int], str, Any]], rows: int | None, service) -> dict[str, list]:
    """The id inputs' values, as given: each [N] or [N, 1] of the other inputs' N rows, BYTES or integers."""
    ids: dict[str, list] = {}
    for name, shape, datatype, data in inputs:
        if name in ids:
            raise bad(f"input {name!r} is given twice")
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise bad(f"input {name!r}: shape must be [N] or [N, 1], got {shape}")
        if rows is not None and shape[0] != rows:
            raise bad(f"input {name!r} has {shape[0]} rows, the other inputs {rows}: all must have as many")
        if datatype not in ID_TYPES:
            raise bad(f"input {name!r}: an id column takes datatype BYTES or an integer type, not {datatype}")
        service.validator.check_count(shape[0])  # before building anything from binary data
        values = tensor_values(data, shape, datatype, f"input {name!r}")
        if datatype in INTEGERS and type(values) is list:  # echoed in this datatype: each value must fit it
            limits = np.iinfo(datatype.lower())
            outside = next((v for v in values if v is not None and not limits.min <= v <= limits.max), None)
            if outside is not None:
                raise bad(f"input {name!r}: value {outside} does not fit datatype {datatype}")
        ids[name] = values
    return ids


def decode_columns(
    inputs: list[tuple[str, list[int], str, Any]], service: PredictionService, ids: dict[str, list]
) -> dict[str, list]:
    """One input per column, each [N] or [N, 1], all of N rows; `ids`: the id inputs' values."""
    validator = service.validator
    columns: dict[str, list] = {}
    rows = None
    for name, shape, datatype, data in inputs:
        if name in columns:
            raise bad(f"input {name!r} is given twice")
        if name not in validator.column_set:
            break  # named with the rest below
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise bad(f"input {name!r}: shape must be [N] or [N, 1], got {shape}")
        if rows is not None and shape[0] != rows:
            raise bad(f"input {name!r} has {shape[0]} rows, the inputs before it {rows}: all must have as many")
        rows = shape[0]
        check_datatype(name, datatype, validator.numeric[validator.position[name]])
        validator.check_count(shape[0])  # before building anything from binary data
        columns[name] = tensor_values(data, shape, datatype, f"input {name!r}")
    names = [name for name, *_ in inputs]
    missing = [name for name in validator.columns if name not in names]
    extra = [name for name in names if name not in validator.column_set]
    if missing or extra:
        tensor = f", or one [N, {len(validator.columns)}] tensor" if all(validator.numeric) else ""
        raise bad(
            f"inputs: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, unknown {extra[:5]}: "
            f"send one input per column, named as the column{tensor} (GET /v2/models/{service.name})"
        )
    return validator.from_columns({**columns, **ids}, "inputs")


def check_datatype(name: str, datatype: str, numeric: bool) -> None:
    if datatype not in (NUMERIC_TYPES if numeric else CATEGORICAL_TYPES):
        kind, allowed = ("numeric", NUMERIC_TYPES) if numeric else ("categorical", CATEGORICAL_TYPES)
        raise bad(f"input {name!r}: a {kind} column takes datatype {' or '.join(sorted(allowed))}, not {datatype}")


def decode_tensor(
    name: str, shape: list[int], datatype: str, data: Any, service: PredictionService, ids: dict[str, list]
) -> dict[str, list]:
    validator = service.validator
    width = len(validator.columns)
    if not all(validator.numeric):
        raise bad(f"input {name!r}: a [N, F] tensor needs every column numeric; send one input per column")
    if shape[1] != width or datatype not in NUMERIC_TYPES:
        raise bad(f"input {name!r}: expected shape [N, {width}] and a numeric datatype, got {shape} {datatype}")
    validator.check_count(shape[0])
    flat = tensor_values(data, shape, datatype, f"input {name!r}")
    columns = {column: flat[position::width] for position, column in enumerate(validator.columns)}
    return validator.from_columns({**columns, **ids}, f"input {name!r}")


def tensor_values(data: Any, shape: list[int], datatype: str, where: str) -> list | Any:
    """An input's values, flat: from JSON as a checked list, from binary data as binary_tensors reads it."""
    if type(data) is Binary:
        return binary_tensors.values(data, shape, datatype, where)
    return check_values(flatten(data, shape, where), datatype, where)


def requested_outputs(outputs: Any, service: PredictionService, ids: list[str]) -> list[str]:
    """The outputs asked for, by default all: the model's, and the `ids` the request gave as inputs."""
    available = [*(REGRESSION_OUTPUTS if service.regression else OUTPUTS), *ids]
    if outputs is None:
        return list(available)
    if type(outputs) is not list or not all(type(o) is dict and type(o.get("name")) is str for o in outputs):
        raise bad('outputs must be a list of {"name": ...}')
    names = [output["name"] for output in outputs]
    unknown = [name for name in names if name not in available]
    if unknown:
        raise bad(f"unknown output(s) {unknown}; this model has {list(available)}")
    return names


def encode(
    service: PredictionService,
    prediction: Prediction,
    outputs: list[str],
    request_id: str | None,
    ids: dict[str, tuple[str, list]],
):
    """The answer's JSON; `ids`: {id column: (its input's datatype, its values)}, echoed as outputs."""
    predictions, probabilities = prediction.predictions, prediction.probabilities
    rows = len(predictions)
    if service.regression:
        tensors = {"prediction": {"name": "prediction", "datatype": "FP64", "shape": [rows], "data": predictions}}
    else:
        tensors = {
            "label": {"name": "label", "datatype": "BYTES", "shape": [rows], "data": predictions},
            "probabilities": {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [rows, len(service.classes)],
                "data": [p for row in probabilities or [] for p in row],
            },
        }
    for name, (datatype, values) in ids.items():
        tensors[name] = {"name": name, "datatype": datatype, "shape": [rows], "data": values}
    return {
        "model_name": service.name,
        "model_version": service.version,
        "id": request_id or prediction.id,
        "parameters": {"prediction_id": prediction.id},
        "outputs": [tensors[name] for name in outputs],
    }


def register(routes: Routes, service: PredictionService) -> None:
    schemas = routes.schemas
    readiness = {"200": ok("ready"), "503": plain_error("not ready")}
    described = {"200": ok("inputs and outputs")}

    @routes.get("/v2", "Open Inference Protocol: server metadata", {"200": ok("server metadata")})
    def v2_server() -> Response:
        return json_response({"name": "mlops-serving", "version": "2", "extensions": [binary_tensors.EXTENSION]})

    @routes.get("/v2/health/live", "Open Inference Protocol: liveness", {"200": ok("live")})
    def v2_live() -> Response:
        return json_response({"live": True})

    @routes.get("/v2/health/ready", "Open Inference Protocol: readiness", readiness)
    def v2_ready() -> Response:
        return json_response({"ready": service.ready}, 200 if service.ready else 503)

    @routes.get("/v2/models/<name>", "Open Inference Protocol: model metadata", described)
    @routes.get("/v2/models/<name>/versions/<version>", "Open Inference Protocol: model metadata", described)
    def v2_metadata(name: str, version: str | None = None) -> Response:
        check_model(service, name, version)
        return json_response(model_metadata(service))

    @routes.get("/v2/models/<name>/ready", "Open Inference Protocol: model readiness", readiness)
    @routes.get("/v2/models/<name>/versions/<version>/ready", "Open Inference Protocol: model readiness", readiness)
    def v2_model_ready(name: str, version: str | None = None) -> Response:
        check_model(service, name, version)
        return json_response({"name": service.name, "ready": service.ready}, 200 if service.ready else 503)

    answers, body, headers = binary_tensors.with_binary(
        {"200": prediction_response("outputs", response_schema()), **schemas.plain_errors},
        json_body(request_schema(service)),
    )
    infer = ("Open Inference Protocol inference", answers, body, headers)

    @routes.post("/v2/models/<name>/infer", *infer)
    @routes.post("/v2/models/<name>/versions/<version>/infer", *infer)
    def v2_infer(name: str, version: str | None = None) -> Response:
        check_model(service, name, version)
        if binary_tensors.HEADER in request.headers:
            body = binary_tensors.read_request(service.validator.max_json_values)
        else:  # tritonclient sends no Content-Type
            body = read_json_body(service.validator.max_json_values, untyped_ok=True)
        columns, outputs, datatypes = decode(body, service)
        binary = binary_tensors.requested(body, outputs)
        prediction = service.predict(columns)
        ids = {name: (datatype, columns[name]) for name, datatype in datatypes.items()}
        answer = encode(service, prediction, outputs, body.get("id"), ids)
        if binary:
            return binary_tensors.response(answer, binary, prediction.id)
        return json_response(answer, prediction_id=prediction.id)
