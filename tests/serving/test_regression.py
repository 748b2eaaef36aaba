"""The service for a regression model (data.task: regression), on a synthetic project made in a fixture:
numbers without probabilities on every protocol route, the same input checks and 4xx answers,
/metadata naming the task, and an OpenAPI document whose prediction schemas are numbers."""

from __future__ import annotations

import math
import urllib.request

import numpy as np
import pandas as pd
import pytest

from mlops import http
from mlops.pipeline.export import RELATIVE_PREDICTION_TOLERANCE
from mlops.serving.responses import PREDICTION_ID_HEADER
from tests.serving.conftest import TARGET, to_records

VERTEX_PREDICT = "/vertex/predict"


@pytest.fixture(scope="module")
def regression_model_dir(regression_project):
    return regression_project / "models"


@pytest.fixture(scope="module")
def regression_records(regression_project):
    return to_records(pd.read_parquet(regression_project / "data/prepared/test.parquet"))[:20]


@pytest.fixture(scope="module")
def regression_expected(regression_project, regression_records):
    """scikit-learn's predictions for the records (what the ONNX model must agree with)."""
    from mlops.io import load_model
    from mlops.schema import Schema

    schema = Schema.load(regression_project / "data/prepared/schema.json")
    model = load_model(regression_project / "models/model.skops")
    frame = schema.features_frame(pd.DataFrame(regression_records).reindex(columns=schema.columns))
    return model.predict(frame).astype(float).tolist()


@pytest.fixture
def regression_client(regression_model_dir):
    from mlops.serving.app import create_app

    return create_app(regression_model_dir).test_client()


def assert_numbers_close(values, expected):
    assert all(type(value) is float and math.isfinite(value) for value in values), values
    tolerance = RELATIVE_PREDICTION_TOLERANCE * max(abs(value) for value in expected)
    np.testing.assert_allclose(values, expected, rtol=0, atol=tolerance)


def test_predict_answers_numbers_without_probabilities_or_classes(
    regression_client, regression_records, regression_expected
):
    reply = regression_client.post("/predict", json={"instances": regression_records})
    assert reply.status_code == 200, reply.json
    answer = reply.json
    assert set(answer) == {"predictions", "model_version", "prediction_ids"}
    assert_numbers_close(answer["predictions"], regression_expected)
    assert answer["prediction_ids"] == [f"{reply.headers[PREDICTION_ID_HEADER]}-{i}" for i in range(20)]


def test_metadata_names_the_task_and_the_deciles_of_the_test_splits_predictions(regression_client, regression_project):
    from mlops.io import load_model
    from mlops.schema import Schema

    metadata = regression_client.get("/metadata").json
    assert metadata["task"] == "regression" and metadata["classes"] == []
    assert metadata["metrics"].keys() == {"rmse"}
    schema = Schema.load(regression_project / "data/prepared/schema.json")
    test = pd.read_parquet(regression_project / "data/prepared/test.parquet")
    predicted = load_model(regression_project / "models/model.skops").predict(schema.features_frame(test))
    deciles = np.quantile(predicted, np.linspace(0.1, 0.9, 9))
    assert metadata["prediction_buckets"] == pytest.approx(deciles, abs=1e-6)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"instances": [{"size": 1.0}]}, "missing"),
        ({"instances": [{"size": "big", "weight": 50.0, "color": "red"}]}, "size"),
        ({"instances": [{"size": 10.0, "weight": 50.0, "color": "purple"}]}, "purple"),
        ({"rows": []}, "instances"),
    ],
)
def test_bad_input_gets_the_same_400s_as_a_classifier(regression_client, body, message):
    reply = regression_client.post("/predict", json=body)
    assert reply.status_code == 400 and message in reply.json["error"]["message"], reply.json


def test_a_bad_v2_output_name_offers_the_regression_output(regression_client, regression_records):
    name = regression_client.get("/v1/models").json["models"][0]
    inputs = v2_inputs(regression_records[:1])
    reply = regression_client.post(f"/v2/models/{name}/infer", json={"inputs": inputs, "outputs": [{"name": "label"}]})
    assert reply.status_code == 400 and "['prediction']" in reply.json["error"], reply.json
    metadata = regression_client.get(f"/v2/models/{name}").json
    assert metadata["outputs"] == [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]


def test_openapi_says_predictions_are_numbers(regression_client):
    document = regression_client.get("/openapi.json").json
    assert "a number (regression)" in document["info"]["description"]
    schema = document["components"]["schemas"]["Prediction"]
    assert schema["properties"]["predictions"]["items"] == {"type": "number"}
    assert "probabilities" not in schema["properties"] and "classes" not in schema["properties"]
    assert document["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Prediction"
    }
    for path in ("/invocations", "/v1/models/{name}:predict"):
        answer = document["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer["properties"]["predictions"]["items"] == {"type": "number"}, path
    v2_request = document["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]
    assert "'prediction'" in str(v2_request) and "'label'" not in str(v2_request)


def v2_inputs(rows):
    columns = {column: [row[column] for row in rows] for column in rows[0]}
    return [
        {"name": column, "shape": [len(values)], "datatype": "BYTES" if column == "color" else "FP64", "data": values}
        for column, values in columns.items()
    ]


@pytest.mark.slow
def test_every_protocol_route_answers_numbers_under_gunicorn_and_smoke_agrees(
    serve, regression_model_dir, regression_records, regression_expected, tmp_path
):
    server = serve(regression_model_dir, AIP_PREDICT_ROUTE=VERTEX_PREDICT)
    name = http.request(server.url + "/v1/models").json()["models"][0]
    complete = [i for i, row in enumerate(regression_records) if None not in row.values()][:5]
    rows, expected = [regression_records[i] for i in complete], [regression_expected[i] for i in complete]
    csv_rows = "\n".join(",".join(str(row[column]) for column in rows[0]) for row in rows)
    calls = {
        "/predict": ({"instances": rows}, "application/json", lambda a: a["predictions"]),
        "/invocations": ({"dataframe_records": rows}, "application/json", lambda a: a["predictions"]),
        f"/v1/models/{name}:predict": ({"instances": rows}, "application/json", lambda a: a["predictions"]),
        VERTEX_PREDICT: ({"instances": rows, "parameters": {}}, "application/json", lambda a: a["predictions"]),
        f"/v2/models/{name}/infer": ({"inputs": v2_inputs(rows)}, "application/json", v2_prediction),
    }
    for route, (body, content_type, numbers) in calls.items():
        reply = http.request(server.url + route, body, content_type=content_type)
        assert reply.status == 200, (route, reply.body)
        assert reply.headers[PREDICTION_ID_HEADER.lower()], route
        assert "probabilities" not in reply.body.decode(), route
        assert_numbers_close(numbers(reply.json()), expected)

    csv_request = urllib.request.Request(
        server.url + "/invocations", csv_rows.encode(), {"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    with urllib.request.urlopen(csv_request, timeout=30) as reply:
        assert_numbers_close([float(line) for line in reply.read().decode().splitlines()], expected)

    reply = http.request(server.url + "/predict", {"instances": [{"size": "big", "weight": 1.0, "color": "red"}]})
    assert reply.status == 400 and "size" in reply.json()["error"]["message"]

    # mlops smoke, as the release path runs it on the built image: every test row, numbers within the parity gap.
    from mlops.cli import main
    from mlops.io import load_model
    from mlops.schema import Schema

    project = regression_model_dir.parent
    schema = Schema.load(project / "data/prepared/schema.json")
    test = pd.read_parquet(project / "data/prepared/test.parquet")
    predicted = load_model(regression_model_dir / "model.skops").predict(schema.features_frame(test))
    expected_file = tmp_path / "expected.csv"
    pd.DataFrame({"actual": test[TARGET], "predicted": predicted.round(6)}).to_csv(expected_file, index=False)
    files = [
        "--test",
        str(project / "data/prepared/test.parquet"),
        "--schema",
        str(project / "data/prepared/schema.json"),
    ]
    files += ["--metadata", str(regression_model_dir / "metadata.json"), "--expected", str(expected_file)]
    assert main(["smoke", "--url", server.url, *files]) == 0
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"actual": test[TARGET], "predicted": predicted.round(6) + 0.01}).to_csv(wrong, index=False)
    assert main(["smoke", "--url", server.url, *files[:-1], str(wrong)]) == 1

    metrics = http.request(server.url + "/metrics").body.decode()
    observed = [line for line in metrics.splitlines() if line.startswith("mlops_prediction_value_count")]
    assert observed and float(observed[0].split()[-1]) >= 5 * len(calls) + len(rows), observed
    assert not [line for line in metrics.splitlines() if line.startswith("mlops_predictions_total{")]


def v2_prediction(answer):
    (output,) = answer["outputs"]
    assert output["name"] == "prediction" and output["datatype"] == "FP64" and output["shape"] == [5]
    return output["data"]
