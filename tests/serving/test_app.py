"""The Flask app through its test client: every route, every kind of bad request."""

import json
import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from mlops.exported import StartupError


def post(client, path, body, **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    kwargs.setdefault("content_type", "application/json")
    return client.post(path, data=data, **kwargs)


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"] and "details" in error
    assert "Traceback" not in response.get_data(as_text=True)
    return error


def test_predict_records_and_rows_match_sklearn(client, records, expected):
    by_records = post(client, "/predict", {"instances": records}).get_json()
    rows = [list(record.values()) for record in records]
    by_rows = post(client, "/predict", {"instances": rows}).get_json()
    assert by_records["predictions"] == by_rows["predictions"] == expected[0]
    assert np.abs(np.array(by_records["probabilities"]) - expected[1]).max() < 1e-5
    assert by_records["model_version"] == "7" and by_records["classes"] == ["high", "low", "mid"]


@pytest.mark.parametrize("key", ["dataframe_records", "instances", "inputs"])
def test_invocations_takes_records(client, records, expected, key):
    response = post(client, "/invocations", {key: records})
    assert response.get_json() == {"predictions": expected[0]}


def test_invocations_takes_dataframe_split_in_any_column_order(client, records, expected):
    columns = list(reversed(records[0]))
    split = {"columns": columns, "data": [[record[c] for c in columns] for record in records]}
    assert post(client, "/invocations", {"dataframe_split": split}).get_json() == {"predictions": expected[0]}


def test_invocations_takes_columns_as_inputs(client, records, expected):
    columns = {name: [record[name] for record in records] for name in records[0]}
    assert post(client, "/invocations", {"inputs": columns}).get_json() == {"predictions": expected[0]}


def test_null_reaches_the_model_as_the_training_missing_value(client, records):
    record = {**records[0], "color": None, "weight": None}
    with_null = post(client, "/predict", {"instances": [record]}).get_json()
    with_sentinel = post(client, "/predict", {"instances": [{**record, "color": ""}]}).get_json()
    assert with_null.pop("prediction_ids") != with_sentinel.pop("prediction_ids")  # two requests, two ids
    assert with_null == with_sentinel


@pytest.mark.parametrize(
    ("change", "status", "code", "column"),
    [
        ({"size": "12"}, 400, "invalid_instances", "size"),
        ({"size": True}, 400, "invalid_instances", "size"),
        ({"color": 3.5}, 400, "invalid_instances", "color"),
        ({"color": "purple"}, 400, "invalid_instances", "color"),
        ({"weight": 1e39}, 400, "invalid_instances", "weight"),
    ],
)
def test_wrong_values_are_rejected_naming_row_and_column(client, records, change, status, code, column):
    error = assert_error(post(client, "/predict", {"instances": [records[0], {**records[1], **change}]}), status, code)
    assert error["details"]["problems"][0]["row"] == 1
    assert error["details"]["problems"][0]["column"] == column


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_rejected(client, records, literal):
    body = json.dumps({"instances": [{**records[0], "size": 0.5}]}).replace("0.5", literal)
    assert_error(post(client, "/predict", body), 400, "invalid_instances")


def test_missing_and_unknown_columns_are_named(client, records):
    record = {k: v for k, v in records[0].items() if k != "size"} | {"height": 1}
    error = assert_error(post(client, "/predict", {"instances": [record]}), 400, "invalid_instances")
    assert error["details"]["problems"][0]["missing"] == ["size"]
    assert error["details"]["problems"][0]["unknown"] == ["height"]
    assert_error(post(client, "/predict", {"instances": [[1.0, 2.0]]}), 400, "invalid_instances")


def test_unknown_categories_pass_to_the_encoder_when_configured(make_app, model_dir, tmp_path, records):
    shutil.copytree(model_dir, tmp_path / "models")
    metadata = json.loads((tmp_path / "models/metadata.json").read_text())
    (tmp_path / "models/metadata.json").write_text(json.dumps({**metadata, "unknown_categories": "accept"}))
    client = make_app(tmp_path / "models").test_client()
    response = post(client, "/predict", {"instances": [{**records[0], "color": "purple"}]})
    assert response.status_code == 200 and len(response.get_json()["predictions"]) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"instances": []}, 400, "empty_instances"),
        ({"instances": {}}, 400, "invalid_request"),
        ({"rows": []}, 400, "invalid_request"),
        ([1, 2], 400, "invalid_request"),
        ("{not json", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        ("[" * 100_000, 400, "invalid_json"),
    ],
)
def test_malformed_bodies_are_rejected(client, body, status, code):
    assert_error(post(client, "/predict", body), status, code)


def test_wrong_content_type_is_415(client, records):
    response = client.post("/predict", data=json.dumps({"instances": records}), content_type="text/csv")
    assert_error(response, 415, "unsupported_media_type")


def test_limits_on_rows_and_body_size(make_app, records):
    client = make_app(MLOPS_MAX_BATCH_ROWS=3, MLOPS_MAX_BODY_BYTES=2000).test_client()
    assert post(client, "/predict", {"instances": records[:3]}).status_code == 200
    assert assert_error(post(client, "/predict", {"instances": records[:4]}), 413, "too_many_rows")
    assert_error(post(client, "/predict", {"instances": [[0.0] * 400]}), 413, "payload_too_large")


def test_unknown_routes_and_methods_are_json_errors(client):
    assert_error(client.get("/nope"), 404, "not_found")
    response = client.get("/predict")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_health_ready_ping_metadata(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    assert client.get("/ready").get_json()["status"] == "ready"
    assert client.get("/ping").status_code == 200
    metadata = client.get("/metadata").get_json()
    assert metadata["version"] == "7" and metadata["limits"]["max_batch_rows"] == 10_000


def test_metrics_count_requests_predictions_and_model(client, records, expected):
    post(client, "/predict", {"instances": records})
    post(client, "/predict", {"instances": []})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'mlops_requests_total{route="/predict",status="200"} 1.0' in text
    assert 'mlops_requests_total{route="/predict",status="400"} 1.0' in text
    assert 'mlops_request_duration_seconds_count{route="/predict",status="200"} 1.0' in text
    for label in set(expected[0]):
        assert f'mlops_predictions_total{{class="{label}"}} {float(expected[0].count(label))}' in text
    assert 'mlops_model_info{name="test-model",version="7"} 1.0' in text


def test_predictions_are_logged_when_a_log_dir_is_set(make_app, tmp_path, records, expected):
    app = make_app(MLOPS_PREDICTION_LOG_DIR=tmp_path / "logs", MLOPS_PREDICTION_LOG_SAMPLE=1)
    assert post(app.test_client(), "/predict", {"instances": records[:5]}).status_code == 200
    app.extensions["mlops"]["prediction_log"].close()
    logged = [
        json.loads(line) for path in (tmp_path / "logs").glob("*.jsonl") for line in path.read_text().splitlines()
    ]
    assert [entry["prediction"] for entry in logged] == expected[0][:5]
    assert logged[0]["features"].keys() == records[0].keys()
    assert logged[0]["model_version"] == "7"


def test_metrics_carry_the_newest_drift_report(make_app, tmp_path):
    report = tmp_path / "drift.json"
    report.write_text(json.dumps({"drift_score": 0.42, "drift_detected": True}))
    text = make_app(MLOPS_DRIFT_REPORT=report).test_client().get("/metrics").get_data(as_text=True)
    assert "mlops_drift_score 0.42" in text
    assert "mlops_drift_detected 1" in text


def test_openapi_request_schema_comes_from_the_model_schema(client):
    spec = client.get("/openapi.json").get_json()
    record = spec["components"]["schemas"]["Record"]
    assert record["required"] == ["size", "weight", "color", "grade"]
    assert set(record["properties"]["color"]["enum"]) == {"blue", "green", "red", "", None}


def test_openapi_documents_every_route_of_the_app(make_app):
    app = make_app(AIP_HEALTH_ROUTE="/vertex/health", AIP_PREDICT_ROUTE="/vertex/models/m:predict")
    spec = app.test_client().get("/openapi.json").get_json()
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule): rule.methods - {"HEAD", "OPTIONS"}
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert {path: {method.upper() for method in operations} for path, operations in spec["paths"].items()} == routes


def test_the_sklearn_runtime_serves_the_same_predictions(make_app, model_dir, tmp_path, records, expected):
    shutil.copytree(model_dir, tmp_path / "models")
    metadata = json.loads((tmp_path / "models/metadata.json").read_text())
    (tmp_path / "models/metadata.json").write_text(json.dumps({**metadata, "runtime": "sklearn"}))
    (tmp_path / "models/model.onnx").unlink()
    client = make_app(tmp_path / "models").test_client()
    assert post(client, "/predict", {"instances": records}).get_json()["predictions"] == expected[0]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.onnx").write_bytes(b"not a model"), "model.onnx could not be loaded"),
        (lambda d: (d / "model.onnx").unlink(), "model.onnx not found"),
        (lambda d: (d / "metadata.json").write_text('{"name": '), "not valid JSON"),
        (lambda d: (d / "metadata.json").unlink(), "metadata.json not found"),
        (lambda d: (d / "metadata.json").write_text('{"name": "x"}'), "lacks version"),
    ],
)
def test_a_broken_model_dir_refuses_to_start(make_app, model_dir, tmp_path, damage, message):
    shutil.copytree(model_dir, tmp_path / "models")
    damage(tmp_path / "models")
    with pytest.raises(StartupError, match=message) as caught:
        make_app(tmp_path / "models")
    assert "\n" not in str(caught.value)


def test_a_model_failing_its_self_test_is_never_ready(make_app, model_dir, tmp_path, records):
    shutil.copytree(model_dir, tmp_path / "models")
    metadata = json.loads((tmp_path / "models/metadata.json").read_text())
    (tmp_path / "models/metadata.json").write_text(json.dumps({**metadata, "classes": ["x", "y", "z"]}))
    client = make_app(tmp_path / "models").test_client()
    assert_error(client.get("/ready"), 503, "model_not_ready")
    assert client.get("/ping").status_code == 503
    assert_error(post(client, "/predict", {"instances": records}), 503, "model_not_ready")


def test_the_onnx_service_imports_no_training_libraries_nor_pyarrow(model_dir):
    code = (
        "import sys; from mlops.serving.app import create_app; create_app(sys.argv[1]); "
        "loaded = {m.split('.')[0] for m in sys.modules}; "
        "heavy = {'sklearn', 'pandas', 'pydantic', 'skops', 'yaml', 'mlflow', 'pyarrow'}; "
        "print(','.join(sorted(heavy & loaded)))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(model_dir)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"the service imported {result.stdout.strip()}"


def test_a_route_and_its_operation_are_declared_in_one_call(client):
    """routes.Routes: a protocol adds its view and its OpenAPI operation together; path parameters come
    from the rule, documented with the served model's name and version."""
    from flask import Flask

    from mlops.serving.openapi import Schemas, ok
    from mlops.serving.routes import Routes

    service = client.application.extensions["mlops"]["service"]
    app = Flask("protocol")
    routes = Routes(app, Schemas(service))

    @routes.get("/things/<name>/versions/<version>", "a thing", {"200": ok("the thing")})
    def thing(name: str, version: str):
        return {"name": name, "version": version}

    assert [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == "thing"] == [
        "/things/<name>/versions/<version>"
    ]
    operation = routes.paths["/things/{name}/versions/{version}"]["get"]
    assert [(p["name"], p["in"], p["schema"]["enum"]) for p in operation["parameters"]] == [
        ("name", "path", [service.name]),
        ("version", "path", [service.version]),
    ]
    assert operation["summary"] == "a thing" and "requestBody" not in operation
    assert app.test_client().get("/things/a/versions/1").get_json() == {"name": "a", "version": "1"}


@pytest.mark.parametrize("path", ["/predict", "/invocations", "/v1/models/nope:predict", "/v2/models/nope/infer"])
def test_the_worker_writes_an_error_in_the_form_the_app_answers_on_that_path(client, path):
    """One form per protocol (RequestError.body): the worker's own answers (busy, timeout) and the app's agree."""
    from mlops.serving.worker import write_error

    ours, theirs = socket.socketpair()
    with ours, theirs:
        write_error(ours, path, "503 Service Unavailable", "busy", "try again")
        answer = theirs.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    written = json.loads(body)["error"]
    answered = post(client, path, "{").get_json()["error"]  # the app's own error on the same path
    if type(answered) is str:  # KServe's and V2's form
        assert written == "try again"
    else:
        assert written == {"code": "busy", "message": "try again", "details": None} and set(answered) == set(written)
