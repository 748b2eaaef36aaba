"""Each platform's protocol through Flask's test client: KServe V1, Open Inference Protocol V2,
SageMaker's CSV /invocations, Vertex AI's routes, the port rule and the `serve` entrypoint.

Every protocol must answer what /predict answers (one prediction path), and every bad
request must get the protocol's 4xx JSON error, never a 5xx or a traceback.
"""

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from mlops.serving.ports import listen_port

MODEL = "test-model"


def post(client, path, body, content_type="application/json", **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type, **kwargs)


def plain_error(response, status):
    """KServe's and V2's error form: {"error": "message"}."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and type(body["error"]) is str and body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


def v2_inputs(records, datatypes=None):
    names = list(records[0])
    datatypes = datatypes or {name: "BYTES" if name == "color" else "FP64" for name in names}
    return [
        {"name": name, "shape": [len(records)], "datatype": datatypes[name], "data": [r[name] for r in records]}
        for name in names
    ]


# --- KServe V1 -----------------------------------------------------------------------------


def test_kserve_v1_routes_and_predictions(client, records, expected):
    assert client.get("/").get_json() == {"status": "alive"}
    assert client.get("/v1/models").get_json() == {"models": [MODEL]}
    assert client.get(f"/v1/models/{MODEL}").get_json() == {"name": MODEL, "ready": True}
    answer = post(client, f"/v1/models/{MODEL}:predict", {"instances": records}).get_json()
    assert answer == {"predictions": expected[0]}


def test_kserve_v1_takes_the_model_name_from_the_environment(make_app, records):
    client = make_app(MLOPS_MODEL_NAME="churn").test_client()
    assert client.get("/v1/models").get_json() == {"models": ["churn"]}
    assert post(client, "/v1/models/churn:predict", {"instances": records[:2]}).status_code == 200
    plain_error(post(client, f"/v1/models/{MODEL}:predict", {"instances": records[:2]}), 404)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/models/nope:predict", {"instances": [[1]]}, 404),
        (f"/v1/models/{MODEL}:predict", {"rows": []}, 400),
        (f"/v1/models/{MODEL}:predict", {"instances": [{"size": "big"}]}, 400),
        (f"/v1/models/{MODEL}:predict", "{", 400),
        (f"/v1/models/{MODEL}:predict", {"instances": []}, 400),
    ],
)
def test_kserve_v1_errors(client, path, body, status):
    plain_error(post(client, path, body), status)


def test_kserve_v1_unknown_model_and_wrong_method(client):
    plain_error(client.get("/v1/models/nope"), 404)
    plain_error(client.get(f"/v1/models/{MODEL}:predict"), 404)  # GET: read as a model named "...:predict"
    plain_error(client.put(f"/v1/models/{MODEL}:predict"), 405)


# --- Open Inference Protocol V2 -------------------------------------------------------------


def test_v2_server_and_model_metadata(client):
    assert client.get("/v2").get_json()["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    metadata = client.get(f"/v2/models/{MODEL}").get_json()
    assert client.get(f"/v2/models/{MODEL}/versions/7").get_json() == metadata
    assert metadata["name"] == MODEL and metadata["versions"] == ["7"]
    assert metadata["inputs"] == [
        {"name": "size", "datatype": "FP32", "shape": [-1]},
        {"name": "weight", "datatype": "FP32", "shape": [-1]},
        {"name": "color", "datatype": "BYTES", "shape": [-1]},
        {"name": "grade", "datatype": "FP32", "shape": [-1]},
    ]
    assert metadata["outputs"][1] == {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}
    assert client.get(f"/v2/models/{MODEL}/ready").get_json() == {"name": MODEL, "ready": True}


def test_v2_infer_answers_what_predict_answers(client, records, expected):
    body = {"id": "req-1", "inputs": v2_inputs(records)}
    answer = post(client, f"/v2/models/{MODEL}/versions/7/infer", body).get_json()
    predict = post(client, "/predict", {"instances": records}).get_json()
    assert answer["id"] == "req-1" and answer["model_name"] == MODEL and answer["model_version"] == "7"
    label, probabilities = answer["outputs"]
    assert label == {"name": "label", "datatype": "BYTES", "shape": [len(records)], "data": expected[0]}
    assert probabilities["shape"] == [len(records), 3]
    assert np.reshape(probabilities["data"], (len(records), 3)).tolist() == predict["probabilities"]


def test_v2_infer_takes_nested_data_integer_types_no_content_type_and_picks_outputs(client, records, expected):
    inputs = v2_inputs(records[:3], {"size": "FP32", "weight": "FP64", "color": "BYTES", "grade": "INT64"})
    for item in inputs:
        values = [int(v) for v in item["data"]] if item["datatype"] == "INT64" else item["data"]
        item["shape"], item["data"] = [3, 1], [[value] for value in values]
    body = json.dumps({"inputs": inputs, "outputs": [{"name": "label"}]})
    answer = client.post(f"/v2/models/{MODEL}/infer", data=body).get_json()  # no Content-Type, as tritonclient
    assert [output["name"] for output in answer["outputs"]] == ["label"]
    assert answer["outputs"][0]["data"] == expected[0][:3]
    assert answer["id"] == answer["parameters"]["prediction_id"]  # none given: the prediction id
    assert len(answer["id"]) == 32


def test_v2_tensor_form_for_an_all_numeric_model(make_app, numeric_model_dir):
    client = make_app(numeric_model_dir).test_client()
    rows = [[5.0, 2.0], [6.5, None], [3.0, 1.0]]
    tensor = {"name": "input-0", "shape": [3, 2], "datatype": "FP32", "data": [v for row in rows for v in row]}
    by_tensor = post(client, f"/v2/models/{MODEL}/infer", {"inputs": [tensor]}).get_json()
    by_rows = post(client, "/predict", {"instances": rows}).get_json()
    assert by_tensor["outputs"][0]["data"] == by_rows["predictions"]
    nested = {**tensor, "data": rows}
    assert post(client, f"/v2/models/{MODEL}/infer", {"inputs": [nested]}).get_json()["outputs"] == by_tensor["outputs"]
    plain_error(post(client, f"/v2/models/{MODEL}/infer", {"inputs": [{**tensor, "shape": [2, 3]}]}), 400)


def change_input(records, column, **change):
    inputs = v2_inputs(records[:2])
    for item in inputs:
        if item["name"] == column:
            item.update(change)
    return {"inputs": inputs}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (lambda r: change_input(r, "size", shape=[3]), "shape [3] holds 3 values, data has 2"),
        (lambda r: change_input(r, "size", shape=[2, 2]), "shape must be [N] or [N, 1]"),
        (lambda r: change_input(r, "size", datatype="BYTES"), "numeric column takes datatype"),
        (lambda r: change_input(r, "size", datatype="INT64"), "does not fit datatype INT64"),
        (lambda r: change_input(r, "size", datatype="FP128"), "datatype 'FP128' is not one of"),
        (lambda r: change_input(r, "size", datatype=[None]), "datatype [None] is not one of"),
        (lambda r: change_input(r, "color", data=[1.5, "red"], datatype="BYTES"), "does not fit datatype BYTES"),
        (lambda r: change_input(r, "color", data=["purple", "red"]), "unknown category 'purple'"),
        (lambda r: change_input(r, "size", data=[1e39, 1.0]), "32-bit float range"),
        (lambda r: change_input(r, "size", shape=[2, 1], data=[[1.0], 3.0]), "mixes arrays and values"),
        (lambda r: change_input(r, "size", shape=[-2]), "non-negative integers"),
        (lambda r: change_input(r, "grade", name="height"), "missing ['grade'], unknown ['height']"),
        (lambda r: change_input(r, "grade", parameters={"binary_data_size": 16}), "no Inference-Header-Content-Length"),
        (lambda r: {**change_input(r, "size"), "outputs": [{"name": "scores"}]}, "unknown output(s) ['scores']"),
        (lambda r: {**change_input(r, "size"), "id": 5}, "id must be a string"),
        (lambda r: {**change_input(r, "size"), "extra": 1}, "unknown field(s) ['extra']"),
        (lambda r: {"inputs": []}, "the body must be"),
        (lambda r: {"inputs": v2_inputs(r[:2]) + v2_inputs(r[:2])[:1]}, "given twice"),
        (lambda r: [1, 2], "the body must be"),
    ],
)
def test_v2_bad_requests_are_named(client, records, body, message):
    error = plain_error(post(client, f"/v2/models/{MODEL}/infer", body(records)), 400)
    assert message in error


def test_v2_rows_of_different_lengths_are_rejected(client, records):
    inputs = v2_inputs(records[:2])
    inputs[1] = {**inputs[1], "shape": [1], "data": inputs[1]["data"][:1]}
    assert "all must have as many" in plain_error(post(client, f"/v2/models/{MODEL}/infer", {"inputs": inputs}), 400)


def test_v2_unknown_models_versions_content_types_and_a_bad_binary_header(client, records):
    body = {"inputs": v2_inputs(records[:1])}
    plain_error(post(client, "/v2/models/nope/infer", body), 404)
    plain_error(post(client, f"/v2/models/{MODEL}/versions/8/infer", body), 404)
    plain_error(client.get(f"/v2/models/{MODEL}/versions/8/ready"), 404)
    plain_error(post(client, f"/v2/models/{MODEL}/infer", json.dumps(body), content_type="text/plain"), 415)
    headers = {"Inference-Header-Content-Length": "100000"}  # binary tensor data: JSON as long as that, then bytes
    assert "must be the length" in plain_error(post(client, f"/v2/models/{MODEL}/infer", body, headers=headers), 400)
    plain_error(post(client, f"/v2/models/{MODEL}/infer", b"\xff\xfe"), 400)
    plain_error(post(client, f"/v2/models/{MODEL}/infer", "[" * 100_000), 400)
    plain_error(client.get("/v2/nothing/here"), 404)


def test_v2_limits_on_rows_and_body_size(make_app, records):
    client = make_app(MLOPS_MAX_BATCH_ROWS=3, MLOPS_MAX_BODY_BYTES=4000).test_client()
    assert "limit is 3" in plain_error(
        post(client, f"/v2/models/{MODEL}/infer", {"inputs": v2_inputs(records[:4])}), 413
    )
    huge = {"inputs": [{"name": "size", "shape": [1000], "datatype": "FP32", "data": [0.5] * 1000}]}
    plain_error(post(client, f"/v2/models/{MODEL}/infer", huge), 413)


# --- SageMaker: CSV on /invocations -----------------------------------------------------------


def as_csv(records) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["" if v is None else v for v in r.values()] for r in records])
    return out.getvalue()


def test_csv_invocations_answer_what_json_answers(client, records, expected):
    answer = post(client, "/invocations", as_csv(records), content_type="text/csv")
    assert answer.get_json() == {"predictions": expected[0]}
    as_text = post(client, "/invocations", as_csv(records), content_type="text/csv; charset=utf-8",
                   headers={"Accept": "text/csv"})  # fmt: skip
    assert as_text.mimetype == "text/csv" and as_text.get_data(as_text=True).splitlines() == expected[0]


def test_a_csv_header_names_the_columns_in_any_order(client, records, expected):
    names = list(reversed(records[0]))
    body = ",".join(names) + "\n" + as_csv([{name: r[name] for name in names} for r in records])
    assert post(client, "/invocations", body, content_type="text/csv").get_json() == {"predictions": expected[0]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("size,weight,colour,grade\n1,2,red,1\n", "CSV header: missing column(s): color; unknown column(s): colour"),
        ("size,weight,color,grade,size\n1,2,red,1,1\n", "names a column twice"),
        ("size,weight,color,grade\n1,2,red\n", "has 3 values; expected 4, as the header names them"),
        ("1,2,red\n", "has 3 values; expected 4"),
        ("big,2,red,1\n", "must be a number"),
        ("nan,2,red,1\n", "finite number"),
        ("1,2,purple,1\n", "unknown category"),
        ("1,2,red,1,\n", "has 5 values"),
        (b"1,2,\xff,1\n", "not UTF-8"),
        ("", "empty"),
    ],
)
def test_bad_csv_gets_a_400_naming_the_problem(client, body, message):
    response = post(client, "/invocations", body, content_type="text/csv")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert message in json.dumps(response.get_json())


# --- Vertex AI ---------------------------------------------------------------------------------


def test_vertex_routes_come_from_the_environment(make_app, records, expected):
    health, predict = "/v1/endpoints/1/deployedModels/2", "/v1/endpoints/1/deployedModels/2:predict"
    client = make_app(AIP_HEALTH_ROUTE=health, AIP_PREDICT_ROUTE=predict).test_client()
    assert client.get(health).status_code == 200
    body = {"instances": records, "parameters": {"anything": 1}}
    assert post(client, predict, body).get_json() == {"predictions": expected[0]}
    response = post(client, predict, {"instances": [{"size": "big"}]})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_instances"
    assert post(client, predict, {"rows": []}).status_code == 400


def test_a_vertex_route_the_service_has_keeps_its_meaning(make_app, records):
    client = make_app(AIP_HEALTH_ROUTE="/ready", AIP_PREDICT_ROUTE="/predict").test_client()
    assert client.get("/ready").get_json()["status"] == "ready"
    assert "probabilities" in post(client, "/predict", {"instances": records[:1]}).get_json()


def test_a_vertex_route_that_is_not_a_path_stops_the_start(make_app):
    from mlops.exported import StartupError

    with pytest.raises(StartupError, match="AIP_PREDICT_ROUTE='predict' must be a URL path"):
        make_app(AIP_PREDICT_ROUTE="predict")


# --- the port rule and the entrypoint ----------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "port"),
    [
        ({}, 8080),
        ({"PORT": "9000"}, 9000),
        ({"PORT": "9000", "SAGEMAKER_BIND_TO_PORT": "9100"}, 9100),
        ({"PORT": "9000", "SAGEMAKER_BIND_TO_PORT": "9100", "AIP_HTTP_PORT": "9200"}, 9200),
        ({"PORT": " "}, 8080),
    ],
)
def test_the_platform_port_wins_else_8080(environ, port):
    assert listen_port(environ) == port


@pytest.mark.parametrize("value", ["http", "0", "70000"])
def test_a_bad_port_is_named(value):
    with pytest.raises(ValueError, match=f"PORT='{value}' is not a port number"):
        listen_port({"PORT": value})


def test_the_entrypoint_takes_serve_and_nothing_else():
    result = subprocess.run([sys.executable, "-m", "mlops.serving", "train"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "mlops serve: error: unknown command 'train'; the only command is 'serve'\n"
    result = subprocess.run(
        [sys.executable, "-m", "mlops.serving", "serve"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SAGEMAKER_BIND_TO_PORT": "none"},
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "mlops serve: error: SAGEMAKER_BIND_TO_PORT='none' is not a port number (1 to 65535)"
    )


def test_v2_takes_each_field_its_published_schema_has_and_no_other(client, records):
    """The V2 request shape is declared once (v2_schema.REQUEST_FIELDS and TENSOR): /openapi.json
    publishes it and the service checks bodies with it."""
    spec = client.get("/openapi.json").get_json()
    schema = spec["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    full = {
        "id": "request-1",
        "parameters": {},
        "inputs": [{**item, "parameters": {}} for item in v2_inputs(records[:2])],
        "outputs": [{"name": "label"}],
        "model_name": MODEL,
    }
    assert set(schema["properties"]) == set(full) and schema["additionalProperties"] is False
    infer = f"/v2/models/{MODEL}/infer"
    assert post(client, infer, full).status_code == 200
    for field in set(full) - set(schema["required"]):
        assert post(client, infer, {key: value for key, value in full.items() if key != field}).status_code == 200
    assert "unknown field(s) ['extra']" in plain_error(post(client, infer, {**full, "extra": {}}), 400)
    tensor = schema["properties"]["inputs"]["items"]
    assert set(tensor["properties"]) == set(full["inputs"][0])
    for key in tensor["required"]:
        inputs = [{k: v for k, v in item.items() if k != key} for item in full["inputs"]]
        assert f"missing ['{key}']" in plain_error(post(client, infer, {**full, "inputs": inputs}), 400)
    inputs = [{**full["inputs"][0], "extra": 1}, *full["inputs"][1:]]
    assert "unknown ['extra']" in plain_error(post(client, infer, {**full, "inputs": inputs}), 400)
