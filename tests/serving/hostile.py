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


CORPUS = GROWING + UNICODE + HELD
