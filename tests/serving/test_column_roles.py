"""The service takes rows as the data has them: ids (optional, echoed and logged), dates as text, dropped
columns (ignored), a high-cardinality category's rare values; unseen categories per serve.unknown_categories."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from mlops.config import ColumnsParams
from tests.churn import CITY, DATE, ID, churn, later

from .conftest import TARGET, build_project

PLAN = "plan (tier)"
ROLES = ColumnsParams(ids=[ID], drop=["notes"], dates={DATE: "%Y-%m-%d"}, max_categories={CITY: 10})


@pytest.fixture(scope="module")
def frame():
    return churn(500).rename(columns={"Churn": TARGET}).assign(notes="called twice")


@pytest.fixture(scope="module")
def roles_project(tmp_path_factory, frame):
    root = tmp_path_factory.mktemp("roles-project")
    build_project(root, data=frame, roles=ROLES)
    return root


@pytest.fixture(scope="module")
def accepting_models(roles_project, tmp_path_factory):
    """The same model with serve.unknown_categories: accept."""
    directory = tmp_path_factory.mktemp("accepting") / "models"
    shutil.copytree(roles_project / "models", directory)
    metadata = json.loads((directory / "metadata.json").read_text())
    (directory / "metadata.json").write_text(json.dumps({**metadata, "unknown_categories": "accept"}))
    return directory


def post(client, rows):
    return client.post("/predict", data=json.dumps({"instances": rows}), content_type="application/json")


def new_rows(frame, count=3):
    """Next month's customers, as the data has them (ids, dates as text, a dropped column)."""
    return json.loads(
        later(frame.rename(columns={TARGET: "Churn"}), count).drop(columns="Churn").to_json(orient="records")
    )


def test_a_row_with_an_unseen_date_and_city_is_predicted_as_the_pipeline_would(make_app, roles_project, frame):
    from mlops import paths
    from mlops.io import load_model
    from mlops.schema import Schema

    rows = [{**row, "notes": "new"} for row in new_rows(frame, 40)]  # kept, rare and unseen cities
    assert len({row[CITY] for row in rows}) > 10
    answer = post(make_app(roles_project / "models").test_client(), rows)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["ids"] == [{ID: row[ID]} for row in rows]  # echoed as given
    schema = Schema.load(roles_project / "data/prepared/schema.json")
    model = load_model(roles_project / paths.MODEL)
    expected = model.predict_proba(schema.features_frame(pd.DataFrame(rows)))
    assert abs(pd.DataFrame(body["probabilities"]).to_numpy() - expected).max() < 1e-5


def test_ids_are_optional_and_logged_when_given(make_app, roles_project, frame, tmp_path):
    rows = new_rows(frame, 2)
    del rows[1][ID]
    app = make_app(roles_project / "models", MLOPS_PREDICTION_LOG_DIR=tmp_path / "logs", MLOPS_PREDICTION_LOG_SAMPLE=1)
    answer = post(app.test_client(), rows)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["ids"] == [{ID: rows[0][ID]}, {ID: None}]
    app.extensions["mlops"]["prediction_log"].close()
    logged = [
        json.loads(line) for path in (tmp_path / "logs").glob("*.jsonl") for line in path.read_text().splitlines()
    ]
    assert [entry["features"][ID] for entry in logged] == [rows[0][ID], None]
    assert logged[0]["features"][DATE] == rows[0][DATE] and f"{DATE} (days)" in logged[0]["features"]


def test_a_date_not_in_its_format_is_a_400_naming_the_format(make_app, roles_project, frame):
    row = {**new_rows(frame, 1)[0], DATE: "07/12/2026"}
    answer = post(make_app(roles_project / "models").test_client(), [row])
    assert answer.status_code == 400
    assert "'07/12/2026' is not a date in the format '%Y-%m-%d'" in answer.get_json()["error"]["message"]


def test_an_unseen_category_is_refused_by_default(make_app, roles_project, frame):
    row = {**new_rows(frame, 1)[0], PLAN: "gold"}
    answer = post(make_app(roles_project / "models").test_client(), [row])
    assert answer.status_code == 400 and "unknown category 'gold'" in answer.get_json()["error"]["message"]


def test_an_unseen_category_is_predicted_and_counted_when_accepted(make_app, accepting_models, frame):
    client = make_app(accepting_models).test_client()
    rows = [{**row, PLAN: "gold"} for row in new_rows(frame, 2)]
    assert post(client, rows).status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'mlops_out_of_range_total{{column="{PLAN}",problem="unknown_category"}} 2.0' in metrics
    assert f'column="{CITY}",problem="unknown_category"' not in metrics  # grouped: a new city is (other)


def test_the_request_contract_names_dates_ids_and_grouped_columns(make_app, roles_project):
    spec = make_app(roles_project / "models").test_client().get("/openapi.json").get_json()
    record = spec["components"]["schemas"]["Record"]
    assert ID not in record["required"] and ID in record["properties"] and "notes" in record["properties"]
    assert DATE in record["required"] and "'%Y-%m-%d'" in record["properties"][DATE]["description"]
    assert f"{DATE} (days)" not in record["properties"]
    assert "any other value is '(other)'" in record["properties"][CITY]["description"]
