"""The hostile corpus: request bodies an attacker or a broken client sends, and the 4xx each must get.

Each case builds its body from a size in bytes (the bodies that grow fill it; the others ignore
it) and one valid record of the model, so the same corpus serves two masters:
test_hostile.py sends every case through Flask's test client at a small scale (a few hundred
KiB, `serve.max_batch_rows` of 100) and checks the answer, that nothing was predicted and how
much memory answering took; benchmarks/serving/request_memory.py sends every case at the full
body limit to a real gunicorn worker and measures its peak memory (docs/benchmarks.md).
"""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

JSON = "application/json"
CSV = "text/csv"
VERTEX_PREDICT = "/vertex/predict"  # the AIP_PREDICT_ROUTE the tests and the benchmark set
ROUTES = {
    "predict": "/predict",
    "invocations": "/invocations",
    "v1": "/v1/models/{model}:predict",
    "v2": "/v2/models/{model}/infer",
    "vertex": VERTEX_PREDICT,
}
LONE = "\ud800"  # a lone (high) surrogate: not a Unicode character, yet json.loads lets it through


@dataclass(frozen=True)
class Case:
    name: str
    route: str  # a key of ROUTES
    body: Callable[[int, dict], bytes]  # (size in bytes, one valid record) -> the body
    status: int  # at the tests' scale (test_hostile.SCALE)
    says: str  # in the error message
    grows: bool = False  # the body fills the size: memory is what is at stake
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)

    def path(self, model: str) -> str:
        return ROUTES[self.route].format(model=model)


def fill(head: str, unit: str, tail: str, size: int) -> bytes:
    """head + unit repeated + tail, `size` bytes or just under; the unit's trailing comma dropped at the end."""
    count = max(1, (size - len(head) - len(tail)) // len(unit))
    return (head + unit * count).rstrip(",").encode() + tail.encode()


def dumps(value) -> bytes:
    """JSON as a client writes it; lone surrogates as \\u escapes (ensure_ascii)."""
    return json.dumps(value).encode()


def v2_body(record: dict, **fields) -> dict:
    inputs = [
        {
            "name": name,
            "shape": [1],
            "datatype": "BYTES" if type(value) is str else "FP64",
            "data": [value],
        }
        for name, value in record.items()
    ]
    return {"inputs": inputs, **fields}


def surrogate_utf8(text: str) -> bytes:
    """UTF-8 as a careless encoder writes it, lone surrogates encoded as if they were characters."""
    return text.encode("utf-8", "surrogatepass")


def first_column(record: dict) -> str:
    return next(iter(record))


def growing(name, route, head, unit, tail, status=413, says="JSON values", content_type=JSON) -> Case:
    """A case whose body is `head` (text, or a function of the record), `unit` as often as the size
    allows, then `tail`."""

    def body(size: int, record: dict) -> bytes:
        return fill(head(record) if callable(head) else head, unit, tail, size)

    return Case(name, route, body, status, says, grows=True, content_type=content_type)


V2_DATA = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":['
INSTANCES = '{"instances":['

# Bodies that grow: what parsing them would build is what is at stake. The first four are issue 23's.
GROWING = [
    growing("rows of []", "predict", INSTANCES, "[],", "]}"),
    growing("rows of {}", "predict", INSTANCES, "{},", "]}"),
    growing("V2 data of []", "v2", V2_DATA, "[],", "]}]}"),
    growing("CSV lines of 1", "invocations", "", "1\n", "", says="lines", content_type=CSV),
    growing("one row of numbers", "predict", INSTANCES + "[", "1.5,", "]]}"),
    growing("rows of short strings", "predict", INSTANCES, '["ab"],', "]}"),
    growing("dataframe_split data of []", "invocations", '{"dataframe_split":{"data":[', "[],", "]}}"),
    growing("a column of numbers", "invocations", lambda r: '{"inputs":{"' + first_column(r) + '":[', "0,", "]}}"),
    growing("CSV blank lines", "invocations", "", "\n", "", says="lines", content_type=CSV),
    growing("one CSV line of fields", "invocations", "", "1,", "\n", says="CSV fields", content_type=CSV),
    growing("V1 rows of []", "v1", INSTANCES, "[],", "]}"),
    growing("V2 flat data of zeros", "v2", V2_DATA, "0,", "]}]}"),
    growing("Vertex rows of []", "vertex", INSTANCES, "[],", "]}"),
    # parameters: ignored by the route, parsed all the same
    growing(
        "Vertex parameters of {}", "vertex", lambda r: f'{INSTANCES}{json.dumps(r)}],"parameters":{{"p":[', "{},", "]}}"
    ),
    growing("nesting, [ only", "predict", "", "[", ""),
    growing('nesting, {"a": only', "predict", "", '{"a":', ""),
    # Values at first sight, text when looked at again: parsed, and refused for what they are.
    growing(
        "escaped quotes and commas in a string", "predict", INSTANCES + '"', '\\",', '"]}', 400, "is a JSON string"
    ),
    growing("commas in a string", "predict", INSTANCES + '["', "a,", '"]]}', 400, "has 1 values"),
]

# Text that is not Unicode: a lone surrogate in a key, a value, a column name or an id, on every route.
UNICODE = [
    Case("lone surrogate in a key", "predict", lambda n, r: dumps({"instances": [{LONE: 1}]}), 400, "U+D800"),
    Case(
        "lone surrogate in a value",
        "predict",
        lambda n, r: dumps({"instances": [{**r, first_column(r): "\udc00"}]}),
        400,
        "U+DC00",
    ),
    Case(
        "UTF-8-encoded surrogate in a key",
        "predict",
        lambda n, r: surrogate_utf8(json.dumps({"instances": [{LONE: 1}]}, ensure_ascii=False)),
        400,
        "U+D800",
    ),
    Case(
        "lone surrogate in a record key",
        "invocations",
        lambda n, r: dumps({"dataframe_records": [{**r, LONE: 1}]}),
        400,
        "U+D800",
    ),
    Case(
        "lone surrogate in a dataframe_split column",
        "invocations",
        lambda n, r: dumps({"dataframe_split": {"columns": [*list(r)[:-1], LONE], "data": [list(r.values())]}}),
        400,
        "U+D800",
    ),
    Case(
        "lone surrogate in a column of inputs",
        "invocations",
        lambda n, r: dumps({"inputs": {LONE: [1]}}),
        400,
        "U+D800",
    ),
    Case("lone surrogate in a V1 key", "v1", lambda n, r: dumps({"instances": [{LONE: 1}]}), 400, "U+D800"),
    Case("lone surrogate in a Vertex key", "vertex", lambda n, r: dumps({"instances": [{LONE: 1}]}), 400, "U+D800"),
    Case(
        "lone surrogate in Vertex parameters",
        "vertex",
        lambda n, r: dumps({"instances": [r], "parameters": {"note": LONE}}),
        400,
        "U+D800",
    ),
    Case("lone surrogate as the V2 id", "v2", lambda n, r: dumps(v2_body(r, id=LONE)), 400, "U+D800"),
    Case(
        "lone surrogate as a V2 input name",
        "v2",
        lambda n, r: dumps({"inputs": [{"name": LONE, "shape": [1], "datatype": "FP32", "data": [1]}]}),
        400,
        "U+D800",
    ),
    Case(
        "UTF-8-encoded surrogate in a CSV row",
        "invocations",
        lambda n, r: surrogate_utf8(",".join([LONE] * len(r)) + "\n"),
        400,
        "not UTF-8",
        content_type=CSV,
    ),
]

# What held before issue 23 and must keep holding.
HELD = [
    Case(
        "100,000 columns",
        "predict",
        lambda n, r: dumps({"instances": [{f"c{i}": 0 for i in range(100_000)}]}),
        413,
        "JSON values",
    ),
    Case("NaN", "predict", lambda n, r: nan_row(r, "NaN"), 400, "finite number"),
    Case("-Infinity", "predict", lambda n, r: nan_row(r, "-Infinity"), 400, "finite number"),
    Case(
        "a gzip bomb (Content-Encoding is not decoded)",
        "predict",
        lambda n, r: gzip.compress(b"[" + b"0," * 5_000_000 + b"0]"),
        400,
        "not valid JSON",
        headers={"Content-Encoding": "gzip"},
    ),
]


def nan_row(record: dict, literal: str) -> bytes:
    """One row whose first value is a non-finite number, written as JavaScript would."""
    return b'{"instances":[[' + literal.encode() + b"," + dumps(list(record.values())[1:])[1:] + b"]}"


OCTET = "application/octet-stream"
ARROW = "application/vnd.apache.arrow.stream"
BINARY_HEAD = 8192  # the JSON of a binary V2 body, padded with spaces to this length: one header fits every case
BINARY_HEADERS = {"Inference-Header-Content-Length": str(BINARY_HEAD)}


def binary_v2(tensors: list[tuple[dict, bytes]], sizes: list[int] | None = None) -> bytes:
    """A V2 binary-extension body: the inputs' JSON, padded to BINARY_HEAD, then their bytes in order.
    `sizes`: the binary_data_size each input claims (default: its bytes')."""
    sizes = sizes or [len(data) for _, data in tensors]
    inputs = [
        {**item, "parameters": {"binary_data_size": size}} for (item, _), size in zip(tensors, sizes, strict=True)
    ]
    head = json.dumps({"inputs": inputs}).encode()
    assert len(head) <= BINARY_HEAD, len(head)
    return head.ljust(BINARY_HEAD) + b"".join(data for _, data in tensors)


def text(*values: bytes) -> bytes:
    """BYTES elements as the extension lays them out: a 4-byte little-endian length, then the bytes."""
    return b"".join(len(value).to_bytes(4, "little") + value for value in values)


def text_column(record: dict) -> str:
    """A categorical column of the record (its first column when it has none)."""
    return next((name for name, value in record.items() if type(value) is str), first_column(record))


def record_tensors(record: dict, **replace: tuple[dict, bytes]) -> list[tuple[dict, bytes]]:
    """The record as one-row binary inputs (FP64 numbers, BYTES text), some replaced."""
    tensors = {
        name: (
            {"name": name, "shape": [1], "datatype": "BYTES" if type(value) is str else "FP64"},
            text(value.encode()) if type(value) is str else struct.pack("<d", value),
        )
        for name, value in record.items()
    }
    return list({**tensors, **replace}.values())


def binary_case(name: str, body: Callable[[int, dict], bytes], status: int, says: str, **headers: str) -> Case:
    return Case(name, "v2", body, status, says, content_type=OCTET, headers={**BINARY_HEADERS, **headers})


def one_text(record: dict, data: bytes, rows: int = 1) -> list[tuple[dict, bytes]]:
    column = text_column(record)
    return record_tensors(record, **{column: ({"name": column, "shape": [rows], "datatype": "BYTES"}, data)})


def binary_growing(name: str, unit: bytes, datatype: str, column: Callable[[dict], str]) -> Case:
    """One input of `unit` repeated to the size: a shape of far more rows than the limit."""

    def body(size: int, record: dict) -> bytes:
        rows = max(1, (size - BINARY_HEAD) // len(unit))
        return binary_v2([({"name": column(record), "shape": [rows], "datatype": datatype}, unit * rows)])

    return Case(name, "v2", body, 413, "rows in one request", grows=True, content_type=OCTET, headers=BINARY_HEADERS)


BINARY = [
    binary_growing("V2 binary FP64 column of zeros", bytes(8), "FP64", first_column),
    binary_growing("V2 binary BYTES column of empty strings", bytes(4), "BYTES", text_column),
    binary_case(
        "V2 binary: the JSON's length past the body",
        lambda n, r: binary_v2(record_tensors(r)),
        400,
        "must be the length in bytes",
        **{"Inference-Header-Content-Length": str(10**9)},
    ),
    binary_case(
        "V2 binary: bytes after the last input",
        lambda n, r: binary_v2(record_tensors(r)) + bytes(1000),
        400,
        "bytes follow the JSON",
    ),
    binary_case(
        "V2 binary: a binary_data_size past the end",
        lambda n, r: binary_v2(record_tensors(r), [2**62] * len(r)),
        400,
        "runs past the body's end",
    ),
    binary_case(
        "V2 binary: a size that is not the shape's",
        lambda n, r: binary_v2(
            record_tensors(
                r, **{first_column(r): ({"name": first_column(r), "shape": [1], "datatype": "FP64"}, bytes(4))}
            )
        ),
        400,
        "takes 8 bytes, binary_data_size says 4",
    ),
    binary_case(
        "V2 binary: a BYTES length past the end",
        lambda n, r: binary_v2(one_text(r, b"\xff\xff\xff\x7fabc")),
        400,
        "element 0 says 2147483647 bytes",
    ),
    binary_case(
        "V2 binary: BYTES cut inside a length",
        lambda n, r: binary_v2(one_text(r, b"\x01\x00")),
        400,
        "4-byte length",
    ),
    binary_case(
        "V2 binary: BYTES that are not UTF-8",
        lambda n, r: binary_v2(one_text(r, text(b"\xff\xfe"))),
        400,
        "not UTF-8 text",
    ),
    binary_case(
        "V2 binary: a UTF-8-encoded lone surrogate",
        lambda n, r: binary_v2(one_text(r, text(surrogate_utf8(LONE)))),
        400,
        "not UTF-8 text",
    ),
    binary_case(
        "V2 binary: a lone surrogate in the JSON",
        lambda n, r: binary_v2([({"name": LONE, "shape": [1], "datatype": "FP64"}, bytes(8))]),
        400,
        "U+D800",
    ),
]


def arrow_stream(columns: dict, compression: str | None = None) -> bytes:
    import pyarrow as pa

    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=compression)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def repeated(record: dict, rows: int) -> dict:
    import pyarrow as pa

    return {name: pa.repeat(value, rows) for name, value in record.items()}


def bad_text(record: dict, data: bytes, offsets: list[int]) -> dict:
    """The record's columns, its text column's one value built from raw buffers, as no writer checks them."""
    import pyarrow as pa

    column = text_column(record)
    buffers = [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(data)]
    return {**repeated(record, 1), column: pa.Array.from_buffers(pa.string(), 1, buffers)}


def past_the_data(record: dict) -> bytes:
    """A stream whose one string's end offset points far past its data (pyarrow's writer would refuse to write
    it, so a valid stream's offsets are changed in place)."""
    import pyarrow as pa

    probe = "an-offset-probe"
    body = arrow_stream({**repeated(record, 1), text_column(record): pa.array([probe])})
    offsets = struct.pack("<2i", 0, len(probe))
    at = body.rindex(offsets)
    return body[:at] + struct.pack("<2i", 0, 1_000_000) + body[at + len(offsets) :]


def arrow_growing(size: int, record: dict) -> bytes:
    """Uncompressed rows of the record enough to fill the size (about 10 bytes a value)."""
    return arrow_stream(repeated(record, max(1, size // (10 * len(record)))))


ARROW = [
    Case("Arrow rows past the limit", "invocations", arrow_growing, 413, "rows in one request", True, ARROW),
    Case(
        "Arrow zstd bomb: a million rows in a few KiB",
        "invocations",
        lambda n, r: arrow_stream(repeated(r, 1_000_000), compression="zstd"),
        400,
        "compressed",
        content_type=ARROW,
    ),
    Case(
        "Arrow text that is not UTF-8",
        "invocations",
        lambda n, r: arrow_stream(bad_text(r, b"\xff\xfe", [0, 2])),
        400,
        "not a valid Arrow IPC stream",
        content_type=ARROW,
    ),
    Case(
        "Arrow UTF-8-encoded lone surrogate",
        "invocations",
        lambda n, r: arrow_stream(bad_text(r, surrogate_utf8(LONE), [0, 3])),
        400,
        "not a valid Arrow IPC stream",
        content_type=ARROW,
    ),
    Case(
        "Arrow string offsets past the data",
        "invocations",
        lambda n, r: past_the_data(r),
        400,
        "not a valid Arrow IPC stream",
        content_type=ARROW,
    ),
    Case("Arrow: not a stream", "invocations", lambda n, r: b"ARROW1" + bytes(64), 400, "Arrow", content_type=ARROW),
]

CORPUS = GROWING + UNICODE + HELD + BINARY + ARROW
