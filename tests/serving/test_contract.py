"""The request contract (one JSON Schema per column, from the data schema) and serve.out_of_range.

The model directory is the session's synthetic one, with metadata.json edited: `size`
gets a training range, `weight` and `color` become `nullable: false`.
"""

import json
import logging
import shutil

import pytest

from mlops.serving.contract import FLOAT32_MAX


@pytest.fixture
def contract_app(make_app, model_dir, tmp_path):
    def make(out_of_range):
        directory = tmp_path / out_of_range
        shutil.copytree(model_dir, directory)
        metadata = json.loads((directory / "metadata.json").read_text())
        for feature in metadata["schema"]["features"]:
            if feature["name"] == "size":
                feature.update(minimum=0.0, maximum=20.0)
            if feature["name"] in ("weight", "color"):
                feature["nullable"] = False
        (directory / "metadata.json").write_text(json.dumps({**metadata, "out_of_range": out_of_range}))
        return make_app(directory)

    return make


def post(client, body):
    return client.post("/predict", data=json.dumps(body), content_type="application/json")


def test_openapi_publishes_the_schemas_the_validator_checks(contract_app):
    for mode in ("accept", "reject"):
        app = contract_app(mode)
        spec = app.test_client().get("/openapi.json").get_json()
        assert (
            spec["components"]["schemas"]["Record"]["properties"]
            == app.extensions["mlops"]["service"].validator.contract
        )


def test_reject_bounds_numbers_by_the_training_range_and_refuses_unexpected_nulls(contract_app, records):
    app = contract_app("reject")
    size = app.extensions["mlops"]["service"].validator.contract["size"]
    assert (size["minimum"], size["maximum"], size["type"]) == (0.0, 20.0, ["number", "null"])
    client = app.test_client()
    good = {**records[0], "size": 20.0, "weight": 50.0, "color": "red"}
    assert post(client, {"instances": [good]}).status_code == 200
    for change, problem in [
        ({"size": 20.5}, "20.5 is outside the allowed range 0.0 to 20.0"),
        ({"size": -1}, "-1.0 is outside the allowed range"),
        ({"weight": None}, "must not be null"),
        ({"color": None}, "must not be missing"),
        ({"color": ""}, "must not be missing"),
    ]:
        response = post(client, {"instances": [good, {**good, **change}]})
        assert response.status_code == 400, change
        first = response.get_json()["error"]["details"]["problems"][0]
        assert first["row"] == 1 and problem in first["problem"], (change, first)
        assert "serve.out_of_range: reject" in first["problem"]


def test_accept_predicts_counts_per_column_and_logs(contract_app, records, caplog):
    app = contract_app("accept")
    contract = app.extensions["mlops"]["service"].validator.contract
    assert (contract["size"]["minimum"], contract["size"]["maximum"]) == (-FLOAT32_MAX, FLOAT32_MAX)
    assert contract["size"]["x-expected"] == {"minimum": 0.0, "maximum": 20.0, "nullable": True}
    client = app.test_client()
    rows = [
        {**records[0], "size": 25.0, "weight": None, "color": None},
        {**records[0], "size": -3.0, "weight": 50.0, "color": "red"},
        {**records[0], "size": 30.0, "weight": 50.0, "color": "red"},
    ]
    with caplog.at_level(logging.WARNING, logger="mlops.serving"):
        response = post(client, {"instances": rows})
    assert response.status_code == 200 and len(response.get_json()["predictions"]) == 3
    assert "size above maximum: 2" in caplog.text and "weight missing: 1" in caplog.text
    text = client.get("/metrics").get_data(as_text=True)
    assert 'mlops_out_of_range_total{column="size",problem="above_maximum"} 2.0' in text
    assert 'mlops_out_of_range_total{column="size",problem="below_minimum"} 1.0' in text
    assert 'mlops_out_of_range_total{column="weight",problem="missing"} 1.0' in text
    assert 'mlops_out_of_range_total{column="color",problem="missing"} 1.0' in text
    assert 'column="grade"' not in text  # no bounds broken, nothing counted


def test_accept_counts_the_same_through_every_protocol(contract_app, records):
    client = contract_app("accept").test_client()
    row = {**records[0], "size": 25.0}
    client.post(
        "/invocations", data=",".join("" if v is None else str(v) for v in row.values()), content_type="text/csv"
    )
    inputs = [
        {"name": k, "shape": [1], "datatype": "BYTES" if k == "color" else "FP64", "data": [v]} for k, v in row.items()
    ]
    client.post("/v2/models/test-model/infer", data=json.dumps({"inputs": inputs}), content_type="application/json")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'mlops_out_of_range_total{column="size",problem="above_maximum"} 2.0' in text
