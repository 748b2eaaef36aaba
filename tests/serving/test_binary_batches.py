"""The binary batch paths through Flask's test client: V2 binary tensors (bodies tritonclient itself
writes and reads) and Arrow IPC streams on /invocations, each answering exactly what the JSON route
answers, and each malformed body named in a 4xx. The hostile corpus (hostile.py) has their bodies
that attack; test_platforms.py speaks both to the real server with the real clients.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pyarrow as pa
import pytest

from mlops.serving.binary_tensors import HEADER, OCTET_STREAM
from mlops.serving.columnar import ARROW_STREAM

MODEL = "test-model"
SURROGATE = "\ud800".encode("utf-8", "surrogatepass")  # a lone surrogate as a careless encoder writes it
INFER = f"/v2/models/{MODEL}/infer"


def triton_inputs(records, datatypes=None, binary=True):
    """One tritonclient InferInput per column, its data set from numpy as a tritonclient user sets it."""
    import tritonclient.http as triton

    datatypes = datatypes or {"size": "FP32", "weight": "FP64", "color": "BYTES", "grade": "INT64"}
    inputs = []
    for name, datatype in datatypes.items():
        values = [record[name] for record in records]
        if datatype == "BYTES":
            array = np.array(["" if value is None else value for value in values], dtype=object)
        else:
            array = np.array([np.nan if value is None else value for value in values]).astype(
                triton.triton_to_np_dtype(datatype)
            )
        tensor = triton.InferInput(name, [len(values)], datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def infer(client, inputs, outputs=None, binary_outputs=True, path=INFER):
    """POST what tritonclient would send; the answer as tritonclient reads it, and the raw response."""
    import tritonclient.http as triton

    requested = None
    if outputs:
        requested = [triton.InferRequestedOutput(name, binary_data=binary_outputs) for name in outputs]
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, outputs=requested)
    headers = {HEADER: str(json_size)} if json_size is not None else {}
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 200, response.get_data()[:300]
    length = response.headers.get(HEADER)
    result = triton.InferenceServerClient.parse_response_body(
        response.get_data(), header_length=int(length) if length else None
    )
    return result, response


def labels(result) -> list[str]:
    """tritonclient reads BYTES as bytes from binary data, as str from JSON."""
    return [label.decode() if type(label) is bytes else label for label in result.as_numpy("label")]


def test_binary_inputs_and_outputs_answer_what_json_answers(client, records, expected):
    json_result, json_response = infer(client, triton_inputs(records, binary=False), ["label", "probabilities"], False)
    assert HEADER not in json_response.headers and json_response.mimetype == "application/json"
    result, response = infer(client, triton_inputs(records), ["label", "probabilities"])
    assert response.mimetype == OCTET_STREAM and response.headers["X-Prediction-Id"]
    header = json.loads(response.get_data()[: int(response.headers[HEADER])])
    assert [output["parameters"]["binary_data_size"] for output in header["outputs"]] == [
        sum(4 + len(label) for label in expected[0]),
        len(records) * 3 * 4,
    ]
    assert labels(result) == labels(json_result) == expected[0]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float32 and probabilities.shape == (len(records), 3)
    assert probabilities.tobytes() == json_result.as_numpy("probabilities").tobytes()
    predict = client.post("/predict", json={"instances": records}).get_json()
    assert probabilities.tolist() == np.float32(predict["probabilities"]).tolist()


def test_every_binary_datatype_and_the_output_flags(client, records, expected):
    datatypes = {"size": "FP16", "weight": "FP32", "color": "BYTES", "grade": "UINT8"}
    plain = [r for r in records if r["weight"] is not None][:20]
    reference, _ = infer(client, triton_inputs(plain, datatypes, binary=False), ["label"], False)
    # Mixed: some inputs binary, some JSON, in one request; outputs=None asks for binary outputs (tritonclient).
    mixed = triton_inputs(plain, datatypes, binary=True)
    mixed[1] = triton_inputs(plain, datatypes, binary=False)[1]
    result, response = infer(client, mixed)
    assert response.mimetype == OCTET_STREAM and labels(result) == labels(reference)
    as_json, response = infer(client, triton_inputs(plain, datatypes), ["label", "probabilities"], False)
    assert response.mimetype == "application/json" and labels(as_json) == labels(reference)


def test_a_bool_input_reads_as_json_booleans_do(client, records):
    """A categorical column sent as BOOL: the text True/False, as from JSON (an unknown category here)."""
    import tritonclient.http as triton

    inputs = triton_inputs(records[:2])
    flag = triton.InferInput("color", [2], "BOOL")
    flag.set_data_from_numpy(np.array([True, False]), binary_data=True)
    inputs[2] = flag
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs)
    response = client.post(INFER, data=body, headers={HEADER: str(json_size)})
    assert response.status_code == 400 and "unknown category 'True'" in response.get_json()["error"]


def test_the_tensor_form_in_binary(make_app, numeric_model_dir):
    import tritonclient.http as triton

    client = make_app(numeric_model_dir).test_client()
    rows = np.array([[5.0, 2.0], [6.5, np.nan], [3.0, 1.0]], dtype=np.float32)
    tensor = triton.InferInput("input-0", [3, 2], "FP32")
    tensor.set_data_from_numpy(rows, binary_data=True)
    result, _ = infer(client, [tensor], ["label"])
    by_rows = client.post("/predict", json={"instances": [[5.0, 2.0], [6.5, None], [3.0, 1.0]]}).get_json()
    assert labels(result) == by_rows["predictions"]


def test_a_regression_model_answers_its_numbers_in_binary(make_app, regression_project):
    client = make_app(regression_project / "models").test_client()
    records = [{"size": 9.5, "weight": 50.0, "color": "red"}, {"size": 12.0, "weight": None, "color": None}]
    datatypes = {"size": "FP64", "weight": "FP32", "color": "BYTES"}
    by_json, _ = infer(client, triton_inputs(records, datatypes, binary=False), ["prediction"], False)
    by_binary, response = infer(client, triton_inputs(records, datatypes), ["prediction"])
    assert response.mimetype == OCTET_STREAM
    assert by_binary.as_numpy("prediction").dtype == np.float64
    assert by_binary.as_numpy("prediction").tolist() == by_json.as_numpy("prediction").tolist()


def binary_request(record_count: int, tensors: list[tuple[dict, bytes]], extra: bytes = b"", **fields):
    """A binary body by hand: (input JSON, its bytes) pairs; binary_data_size from the bytes unless given."""
    inputs = []
    for item, data in tensors:
        parameters = {"binary_data_size": len(data), **item.pop("parameters", {})}
        inputs.append({"shape": [record_count], **item, "parameters": parameters})
    head = json.dumps({"inputs": inputs, **fields}).encode()
    return head + b"".join(data for _, data in tensors) + extra, len(head)


def strings(*texts: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(text)) + text for text in texts)


def numbers(*values: float) -> bytes:
    return np.array(values, dtype="<f8").tobytes()


def good_tensors(**change):
    tensors = {
        "size": ({"name": "size", "datatype": "FP64"}, numbers(9.0, 11.0)),
        "weight": ({"name": "weight", "datatype": "FP64"}, numbers(50.0, 48.0)),
        "color": ({"name": "color", "datatype": "BYTES"}, strings(b"red", b"blue")),
        "grade": ({"name": "grade", "datatype": "FP64"}, numbers(1.0, 2.0)),
    }
    tensors.update(change)
    return list(tensors.values())


@pytest.mark.parametrize(
    ("tensors", "extra", "header", "status", "message"),
    [
        (good_tensors(), b"", None, 200, ""),
        (good_tensors(), b"", "x", 400, f"{HEADER}: 'x' must be the length"),
        (good_tensors(), b"", "999999", 400, "must be the length in bytes of the JSON"),
        (good_tensors(), b"\0", None, 400, "but the inputs' binary_data_size add up to 63"),
        (good_tensors(size=({"name": "size", "datatype": "FP32"}, numbers(9.0, 11.0))), b"", None, 400,
         "shape [2] of FP32 takes 8 bytes, binary_data_size says 16"),
        (good_tensors(size=({"name": "size", "datatype": "FP64", "parameters": {"binary_data_size": 99}},
                            numbers(9.0, 11.0))), b"", None, 400, "runs past the body's end"),
        (good_tensors(size=({"name": "size", "datatype": "FP64", "parameters": {"binary_data_size": -1}},
                            numbers(9.0, 11.0))), b"", None, 400, "must be a whole number of bytes"),
        (good_tensors(size=({"name": "size", "datatype": "FP64", "data": [1, 2]}, numbers(9.0, 11.0))), b"", None,
         400, "has both data and parameters.binary_data_size"),
        (good_tensors(color=({"name": "color", "datatype": "BYTES"}, strings(b"red") + b"\1\0")), b"", None, 400,
         "ends in or before element 1's 4-byte length"),
        (good_tensors(color=({"name": "color", "datatype": "BYTES"}, strings(b"red") + b"\xff\0\0\0blue")), b"",
         None, 400, "element 1 says 255 bytes; 4 are left"),
        (good_tensors(color=({"name": "color", "datatype": "BYTES"}, strings(b"red", b"blue", b"x"))), b"", None,
         400, "5 bytes are left after the 2 elements"),
        (good_tensors(color=({"name": "color", "datatype": "BYTES"}, strings(b"red", b"\xc3("))), b"", None, 400,
         "element 1 is not UTF-8 text"),
        (good_tensors(color=({"name": "color", "datatype": "BYTES"}, strings(b"red", SURROGATE))),
         b"", None, 400, "element 1 is not UTF-8 text"),
        (good_tensors(color=({"name": "color", "datatype": "BOOL"}, b"\1\2")), b"", None, 400,
         "value 1 is byte 2; a BOOL is 0 or 1"),
        (good_tensors(size=({"name": "size", "datatype": "FP64"}, numbers(9.0, np.inf))), b"", None, 400,
         "row 1, column 'size': must be a finite number"),
        (good_tensors(size=({"name": "size", "datatype": "FP64", "shape": [10**12]}, numbers(9.0, 11.0))), b"",
         None, 413, "rows in one request; the limit is"),
    ],
)  # fmt: skip
def test_malformed_binary_bodies_are_named(client, tensors, extra, header, status, message):
    body, length = binary_request(2, [(dict(item), data) for item, data in tensors], extra)
    response = client.post(INFER, data=body, headers={HEADER: header or str(length)})
    assert response.status_code == status, response.get_data()[:300]
    if status != 200:
        assert message in response.get_json()["error"]


def test_binary_sizes_without_the_header_and_other_flags(client):
    body, length = binary_request(2, good_tensors())
    plain = json.loads(body[:length])
    answer = client.post(INFER, json=plain)
    assert answer.status_code == 400 and f"no {HEADER} header" in answer.get_json()["error"]
    for fields, message in [
        ({"parameters": {"binary_data_output": "yes"}}, "binary_data_output must be true or false"),
        ({"outputs": [{"name": "label", "parameters": {"binary_data": 1}}]}, "binary_data must be true or false"),
        ({"outputs": [{"name": "label", "parameters": {"classification": 2}}]}, "classification extension"),
    ]:
        body, length = binary_request(2, good_tensors(), **fields)
        answer = client.post(INFER, data=body, headers={HEADER: str(length)})
        assert answer.status_code == 400 and message in answer.get_json()["error"], answer.get_json()
    body, length = binary_request(2, good_tensors())
    answer = client.post(INFER, data=body, headers={HEADER: str(length)}, content_type="text/plain")
    assert answer.status_code == 415


# --- Arrow IPC on /invocations -------------------------------------------------------------


def arrow_stream(table: pa.Table, **options) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def records_table(records) -> pa.Table:
    return pa.table({name: [record[name] for record in records] for name in records[0]})


def test_arrow_answers_what_json_answers(client, records, expected):
    by_json = client.post("/invocations", json={"dataframe_records": records})
    by_arrow = client.post("/invocations", data=arrow_stream(records_table(records)), content_type=ARROW_STREAM)
    assert by_arrow.status_code == 200, by_arrow.get_data()[:300]
    assert by_arrow.get_json() == by_json.get_json() == {"predictions": expected[0]}
    assert by_arrow.headers["X-Prediction-Id"]
    # several record batches, columns in another order, float32 and integer columns
    table = records_table(records).select(["grade", "color", "weight", "size"])
    table = table.set_column(3, "size", table.column("size").cast(pa.float32()))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=7):
            writer.write_batch(batch)
    chunked = client.post("/invocations", data=sink.getvalue().to_pybytes(), content_type=ARROW_STREAM)
    float32 = [dict(r, size=None if r["size"] is None else float(np.float32(r["size"]))) for r in records]
    assert chunked.get_json() == client.post("/invocations", json={"dataframe_records": float32}).get_json()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (lambda t: b"not arrow", 400, "not a valid Arrow IPC stream"),
        (lambda t: arrow_stream(t, compression="zstd"), 400, "the record batches are compressed"),
        (lambda t: arrow_stream(t.rename_columns(["size", "weight", "colour", "grade"])), 400,
         "unknown column(s): colour"),
        (lambda t: arrow_stream(t.rename_columns(["size", "size", "color", "grade"])), 400, "more than once"),
        (lambda t: arrow_stream(t.set_column(2, "color", t.column("color").dictionary_encode())), 400,
         "has Arrow type dictionary"),
        (lambda t: arrow_stream(t.set_column(0, "size", pa.array([[1.0]] * len(t)))), 400, "has Arrow type list"),
        (lambda t: arrow_stream(t.set_column(0, "size", pa.array(["a"] * len(t)))), 400,
         "column 'size': must be a number or null, got string"),
        (lambda t: arrow_stream(t.slice(0, 0)), 400, "instances is empty"),
        (lambda t: arrow_stream(t)[:-20], 400, "not a valid Arrow IPC stream"),
    ],
)  # fmt: skip
def test_malformed_arrow_bodies_are_named(client, records, body, status, message):
    response = client.post("/invocations", data=body(records_table(records)), content_type=ARROW_STREAM)
    assert response.status_code == status, response.get_data()[:300]
    assert message in response.get_json()["error"]["message"]


def test_arrow_rows_are_counted_before_they_are_read(make_app, records):
    client = make_app(MLOPS_MAX_BATCH_ROWS=5).test_client()
    response = client.post("/invocations", data=arrow_stream(records_table(records[:6])), content_type=ARROW_STREAM)
    assert response.status_code == 413 and "limit is 5" in response.get_json()["error"]["message"]


def test_without_pyarrow_arrow_is_a_415_that_says_so(client, records, monkeypatch):
    import sys

    body = arrow_stream(records_table(records[:2]))
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as in the serving image, which leaves pyarrow out
    response = client.post("/invocations", data=body, content_type=ARROW_STREAM)
    assert response.status_code == 415 and "pyarrow is not installed" in response.get_json()["error"]["message"]


def test_the_openapi_document_has_the_binary_and_columnar_bodies(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert ARROW_STREAM in paths["/invocations"]["post"]["requestBody"]["content"]
    for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        infer = paths[path]["post"]
        assert OCTET_STREAM in infer["requestBody"]["content"]
        assert OCTET_STREAM in infer["responses"]["200"]["content"]
        assert HEADER in [parameter["name"] for parameter in infer["parameters"]]
