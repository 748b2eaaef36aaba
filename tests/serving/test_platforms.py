"""Each platform's contract against the real server: gunicorn started as the image starts it
(`python -m mlops.serving serve`), with the platform's environment variables set.

KServe V1 and V2 bodies go through KServe's own REST client and are checked with its V2
data models (in a separate environment, .cache/kserve-venv from requirements-kserve.txt:
kserve pins pandas and protobuf below the pipeline's); V2 also through tritonclient, an
independent client.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mlops.http import free_port

pytestmark = pytest.mark.slow
MODEL = "test-model"


def call(url: str, body: bytes | None = None, content_type: str = "application/json", accept: str | None = None):
    headers = {"Content-Type": content_type} if body is not None else {}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read()


def test_vertex_ai_contract(serve, records, expected, tmp_path):
    health, predict = "/v1/endpoints/123/deployedModels/456", "/v1/endpoints/123/deployedModels/456:predict"
    server = serve(ready=False, entrypoint=True, port_variable="AIP_HTTP_PORT", PORT=str(free_port()),
                   AIP_HEALTH_ROUTE=health, AIP_PREDICT_ROUTE=predict)  # fmt: skip
    server.wait_ready(path=health)
    body = json.dumps({"instances": records, "parameters": {"confidence": 0.5}}).encode()
    status, _, answer = call(server.url + predict, body)
    assert status == 200 and json.loads(answer) == {"predictions": expected[0]}
    status, _, answer = call(server.url + predict, json.dumps({"instances": [{"size": []}]}).encode())
    assert status == 400 and json.loads(answer)["error"]["code"] == "invalid_instances"


def test_sagemaker_contract(serve, records, expected):
    server = serve(ready=False, entrypoint=True, port_variable="SAGEMAKER_BIND_TO_PORT", PORT=str(free_port()))
    server.wait_ready(path="/ping")
    status, content_type, answer = call(server.url + "/ping")
    assert status == 200
    status, _, answer = call(server.url + "/invocations", json.dumps({"instances": records}).encode())
    assert status == 200 and json.loads(answer) == {"predictions": expected[0]}
    rows = "".join(
        ",".join("" if value is None else str(value) for value in record.values()) + "\n" for record in records
    )
    status, _, answer = call(server.url + "/invocations", rows.encode(), "text/csv")
    assert status == 200 and json.loads(answer) == {"predictions": expected[0]}
    status, content_type, answer = call(server.url + "/invocations", rows.encode(), "text/csv", accept="text/csv")
    assert status == 200 and content_type == "text/csv" and answer.decode().splitlines() == expected[0]
    status, _, answer = call(server.url + "/invocations", b"1,2\n", "text/csv")
    assert status == 400 and json.loads(answer)["error"]["code"] == "invalid_instances"


def test_sagemaker_stops_within_its_grace_period(serve):
    """SageMaker sends SIGTERM, then SIGKILL 30 s later: the service must be gone before that."""
    import signal
    import time

    server = serve(entrypoint=True)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    assert time.monotonic() - started < 30


def test_kserve_clients_v1_and_v2(serve, records, expected, kserve_python, tmp_path):
    server = serve(entrypoint=True)
    request = tmp_path / "request.json"
    datatypes = {"size": "FP64", "weight": "FP64", "color": "BYTES", "grade": "FP64"}
    request.write_text(json.dumps({"records": records, "datatypes": datatypes}))
    script = Path(__file__).with_name("kserve_client_check.py")
    result = subprocess.run([kserve_python, str(script), server.url, MODEL, str(request)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout)
    assert got["v1_live"] is got["v1_ready"] is got["v2_live"] is got["v2_ready"] is got["v2_model_ready"] is True
    assert got["v1_predictions"] == expected[0]
    assert got["v1_error"][0] == 400 and "missing column" in got["v1_error"][1]
    assert got["v2_id"] == "kserve-1"
    assert got["v2_outputs"]["label"] == expected[0]
    assert got["v2_shapes"] == {"label": [len(records)], "probabilities": [len(records), 3]}
    assert np.abs(np.reshape(got["v2_outputs"]["probabilities"], (-1, 3)) - expected[1]).max() < 1e-5
    assert got["v2_inputs"] == ["size", "weight", "color", "grade"]


def test_tritonclient_v2(serve, records, expected):
    import tritonclient.http as triton

    server = serve(entrypoint=True)
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL)
        assert [tensor["name"] for tensor in client.get_model_metadata(MODEL)["inputs"]] == list(records[0])
        inputs = []
        for name in records[0]:
            values = [record[name] for record in records]
            if name == "color":
                array = np.array(["" if value is None else value for value in values], dtype=object)
                tensor = triton.InferInput(name, [len(values)], "BYTES")
            else:
                array = np.array([np.nan if value is None else value for value in values], dtype=np.float32)
                tensor = triton.InferInput(name, [len(values)], "FP32")
            tensor.set_data_from_numpy(array, binary_data=False)
            inputs.append(tensor)
        outputs = [triton.InferRequestedOutput(name, binary_data=False) for name in ("label", "probabilities")]
        result = client.infer(MODEL, inputs, request_id="triton-1", outputs=outputs)
        assert result.get_response()["id"] == "triton-1"
        assert [
            label.decode() if isinstance(label, bytes) else label for label in result.as_numpy("label")
        ] == expected[0]
        assert np.abs(result.as_numpy("probabilities") - expected[1]).max() < 1e-5
        unnamed = client.infer(MODEL, inputs)  # names no outputs: asks for binary ones, and gets them
        assert [
            label.decode() if isinstance(label, bytes) else label for label in unnamed.as_numpy("label")
        ] == expected[0]
        with pytest.raises(triton.InferenceServerException, match="no model 'nope'"):
            client.infer("nope", inputs, outputs=outputs)
    finally:
        client.close()


def test_tritonclient_binary_tensors_and_arrow_against_gunicorn(serve, records, expected):
    """The binary batch paths on the real server: tritonclient with binary_data=True (inputs and outputs)
    answers exactly what it answers with JSON, and an Arrow stream on /invocations what JSON does."""
    import tritonclient.http as triton

    from tests.serving.test_binary_batches import arrow_stream, labels, records_table, triton_inputs

    server = serve(entrypoint=True)
    client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        names = ("label", "probabilities")
        as_json = [triton.InferRequestedOutput(name, binary_data=False) for name in names]
        as_binary = [triton.InferRequestedOutput(name) for name in names]  # binary_data=True: the default
        by_json = client.infer(MODEL, triton_inputs(records, binary=False), outputs=as_json)
        by_binary = client.infer(MODEL, triton_inputs(records), request_id="bin-1", outputs=as_binary)
        assert by_binary.get_response()["id"] == "bin-1"
        assert all("binary_data_size" in output["parameters"] for output in by_binary.get_response()["outputs"])
        assert labels(by_binary) == labels(by_json) == expected[0]
        assert by_binary.as_numpy("probabilities").tobytes() == by_json.as_numpy("probabilities").tobytes()
        short = triton_inputs(records[:3])
        short[0].set_shape([2])
        short[0].set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32))
        short[0].set_shape([3])  # 2 values for 3 rows: a clear 400
        with pytest.raises(triton.InferenceServerException, match="takes 12 bytes, binary_data_size says 8"):
            client.infer(MODEL, short)
    finally:
        client.close()
    status, _, answer = call(server.url + "/invocations", arrow_stream(records_table(records)),
                             "application/vnd.apache.arrow.stream")  # fmt: skip
    assert status == 200 and json.loads(answer) == {"predictions": expected[0]}
