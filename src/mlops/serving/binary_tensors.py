"""The Open Inference Protocol's binary tensor data extension on POST /v2/models/<name>/infer.

This is what Triton defines and tritonclient sends with `binary_data=True`. A request with the
header `Inference-Header-Content-Length: <n>` is n bytes of JSON, the inference request as
open_inference reads it, followed by the raw bytes of each input whose `parameters` hold
`binary_data_size` (and no `data`), in the order the inputs are listed. Numbers are
little-endian and as wide as their datatype; a BOOL is one byte, 0 or 1; a BYTES element is a
4-byte little-endian length followed by that many bytes of UTF-8. Everything is checked before
anything is built from it: each input's byte count against its shape and datatype, the counts
against the bytes that follow the JSON, and every BYTES length against the bytes left.

Outputs come back the same way when the request asks for them: `parameters.binary_data_output`
true (tritonclient sets it when it names no outputs) or an output's `parameters.binary_data`
true (tritonclient's default when it names them). The answer's JSON then gives each such output
`parameters.binary_data_size` instead of `data`, the header says how long the JSON is, and the
Content-Type is application/octet-stream. The predictions are those of the JSON form, value for
value: probabilities are the same rounded numbers, as FP32.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import numpy as np
import orjson
from flask import Response, request

from mlops.serving.responses import JSON, PREDICTION_ID_HEADER, parse_json, read_body
from mlops.serving.validation import RequestError

HEADER = "Inference-Header-Content-Length"
EXTENSION = "binary_tensor_data"  # its name in GET /v2 (server metadata), as Triton lists it
OCTET_STREAM = "application/octet-stream"
CONTENT_TYPES = ("", OCTET_STREAM, JSON)  # tritonclient sends none
DTYPES = {
    "BOOL": "u1",
    "INT8": "i1",
    "UINT8": "u1",
    "INT16": "<i2",
    "UINT16": "<u2",
    "FP16": "<f2",
    "INT32": "<i4",
    "UINT32": "<u4",
    "FP32": "<f4",
    "INT64": "<i8",
    "UINT64": "<u8",
    "FP64": "<f8",
}
LENGTH = struct.Struct("<I")  # a BYTES element's length
DIGITS = re.compile(r"[0-9]{1,10}")


def bad(message: str, status: int = 400, code: str = "invalid_request") -> RequestError:
    return RequestError(status, code, message)


class Binary:
    """One input's bytes in the binary part of a request, not yet read as values."""

    __slots__ = ("data",)

    def __init__(self, data: memoryview):
        self.data = data


def read_request(max_json_values: int) -> Any:
    """The request's JSON with each binary input's bytes attached as its `data` (a Binary)."""
    if request.mimetype not in CONTENT_TYPES:
        raise bad(
            f"a binary inference request is sent as {OCTET_STREAM} or without a Content-Type, not {request.mimetype!r}",
            415,
            "unsupported_media_type",
        )
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        raise bad(
            f"Content-Encoding {encoding!r}: a binary inference request is taken uncompressed",
            415,
            "unsupported_media_type",
        )
    body = read_body()
    raw = request.headers[HEADER].strip()
    length = int(raw) if DIGITS.fullmatch(raw) else -1
    if not 0 < length <= len(body):
        raise bad(
            f"{HEADER}: {raw[:20]!r} must be the length in bytes of the JSON that starts the body "
            f"(1 to {len(body)}, the body's length)"
        )
    parsed = parse_json(body[:length], max_json_values)
    attach(parsed, memoryview(body)[length:])
    return parsed


def attach(parsed: Any, binary: memoryview) -> None:
    """Give each input with `binary_data_size` its bytes, in order; they must add up to all of `binary`."""
    inputs = parsed.get("inputs") if type(parsed) is dict else None
    used = 0
    for index, item in enumerate(inputs if type(inputs) is list else []):
        parameters = item.get("parameters") if type(item) is dict else None
        if type(parameters) is not dict or "binary_data_size" not in parameters:
            continue
        size = parameters["binary_data_size"]
        if type(size) is not int or size < 0:
            raise bad(f"inputs[{index}]: parameters.binary_data_size must be a whole number of bytes, got {size!r}")
        if "data" in item:
            raise bad(f"inputs[{index}] has both data and parameters.binary_data_size: send its values one way")
        if size > len(binary) - used:
            raise bad(
                f"inputs[{index}]: binary_data_size {size} runs past the body's end: "
                f"{len(binary) - used} bytes of binary data are left after the JSON and the inputs before it"
            )
        item["data"] = Binary(binary[used : used + size])
        used += size
    if used != len(binary):
        raise bad(
            f"{len(binary)} bytes follow the JSON ({HEADER}), but the inputs' binary_data_size add up to {used}: "
            "each binary input needs its size, and nothing may follow the last"
        )


def values(data: Binary, shape: list[int], datatype: str, where: str) -> np.ndarray | list:
    """An input's values from its bytes: a numpy array of numbers (NaN: missing), or a list of text."""
    count = math.prod(shape)
    if datatype == "BYTES":
        return strings(data.data, count, where)
    dtype = np.dtype(DTYPES[datatype])
    if len(data.data) != count * dtype.itemsize:
        raise bad(
            f"{where}: shape {shape} of {datatype} takes {count * dtype.itemsize} bytes, "
            f"binary_data_size says {len(data.data)}"
        )
    array = np.frombuffer(data.data, dtype=dtype)
    if datatype == "BOOL":
        if array.size and array.max() > 1:
            index = int(np.argmax(array > 1))
            raise bad(f"{where}: value {index} is byte {array[index]}; a BOOL is 0 or 1")
        return ["True" if value else "False" for value in array.tolist()]  # as open_inference reads JSON booleans
    return array


def strings(data: memoryview, count: int, where: str) -> list[str]:
    """`count` BYTES elements, each a 4-byte length and that many bytes of UTF-8, filling `data` exactly."""
    raw = data.tobytes()
    out, offset, end = [], 0, len(raw)
    for index in range(count):
        if end - offset < LENGTH.size:
            raise bad(f"{where}: the binary data ends in or before element {index}'s 4-byte length; shape says {count}")
        (length,) = LENGTH.unpack_from(raw, offset)
        offset += LENGTH.size
        if length > end - offset:
            raise bad(f"{where}: element {index} says {length} bytes; {end - offset} are left")
        try:
            out.append(raw[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise bad(f"{where}: element {index} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        offset += length
    if offset != end:
        raise bad(f"{where}: {end - offset} bytes are left after the {count} elements its shape holds")
    return out


def requested(body: dict, outputs: list[str]) -> set[str]:
    """The names of the outputs to send as binary data; a RequestError for flags that are not booleans."""
    parameters = body.get("parameters") or {}
    default = parameters.get("binary_data_output", False)
    if type(default) is not bool:
        raise bad(f"parameters.binary_data_output must be true or false, got {default!r}")
    if "outputs" not in body:
        return set(outputs) if default else set()
    binary = set()
    for output in body["outputs"]:
        flags = output.get("parameters") or {}
        if type(flags) is not dict:
            raise bad(f"output {output['name']!r}: parameters must be an object")
        if flags.get("classification"):
            raise bad(
                f"output {output['name']!r}: the classification extension is not supported; ask for probabilities"
            )
        flag = flags.get("binary_data", default)
        if type(flag) is not bool:
            raise bad(f"output {output['name']!r}: parameters.binary_data must be true or false, got {flag!r}")
        if flag:
            binary.add(output["name"])
    return binary


def encode(tensor: dict) -> bytes:
    """An output tensor's data as the extension sends it."""
    if tensor["datatype"] == "BYTES":  # a few distinct labels: each encoded once
        encoded = {value: LENGTH.pack(len(text)) + text for value in set(tensor["data"]) for text in [value.encode()]}
        return b"".join([encoded[value] for value in tensor["data"]])
    return np.asarray(tensor["data"], dtype=DTYPES[tensor["datatype"]]).tobytes()


def response(answer: dict, binary: set[str], prediction_id: str) -> Response:
    """The inference answer with the outputs named in `binary` as bytes after the JSON."""
    chunks = []
    for tensor in answer["outputs"]:
        if tensor["name"] in binary and None not in tensor["data"]:  # an id output with a null stays JSON
            chunks.append(encode(tensor))
            del tensor["data"]
            tensor["parameters"] = {"binary_data_size": len(chunks[-1])}
    header = orjson.dumps(answer)
    reply = Response(b"".join([header, *chunks]), mimetype=OCTET_STREAM)
    reply.headers[HEADER] = str(len(header))
    reply.headers[PREDICTION_ID_HEADER] = prediction_id
    return reply


def with_binary(responses: dict[str, Any], body: dict[str, Any]) -> tuple[dict, dict, list[dict]]:
    """/infer's OpenAPI answers, request body and request headers (mlops.serving.routes), with this extension's."""
    raw = {"schema": {"type": "string", "contentMediaType": OCTET_STREAM}}
    header = {
        "name": HEADER,
        "in": "header",
        "required": False,
        "schema": {"type": "integer", "minimum": 1},
        "description": "binary tensor data extension: the body is this many bytes of JSON (the inference "
        "request), then the bytes of each input with parameters.binary_data_size, in order",
    }
    answer = responses["200"]
    binary_answer = {
        **raw,
        "description": f"when outputs are asked for as binary data: the answer's JSON ({HEADER} bytes), "
        "then each such output's bytes (parameters.binary_data_size)",
    }
    answers = {
        **responses,
        "200": {
            **answer,
            "content": {**answer["content"], OCTET_STREAM: binary_answer},
            "headers": {**answer.get("headers", {}), HEADER: {"schema": {"type": "integer"}}},
        },
    }
    return answers, {**body, OCTET_STREAM: raw}, [header]
