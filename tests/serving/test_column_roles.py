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
    invocations = spec["paths"]["/invocations"]["post"]
    assert "header line" in invocations["requestBody"]["content"]["text/csv"]["description"]
    answer = invocations["responses"]["200"]["content"]
    assert "ids" in answer["application/json"]["schema"]["properties"] and "header line" in str(answer["text/csv"])
    infer = spec["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert infer["properties"]["outputs"]["items"]["properties"]["name"]["enum"] == ["label", "probabilities", ID]


# --- ids on every protocol: accepted as the data has them, never read by the model, echoed, logged ---------

MODEL = "test-model"
INFER = f"/v2/models/{MODEL}/infer"


def predicted(client, rows):
    """/predict's labels and probabilities for `rows` without their ids: what every protocol must answer."""
    body = post(client, [{k: v for k, v in row.items() if k != ID} for row in rows]).get_json()
    return body["predictions"], body["probabilities"]


def logged_rows(app, directory):
    app.extensions["mlops"]["prediction_log"].close()
    return [json.loads(line) for path in directory.glob("*.jsonl") for line in path.read_text().splitlines()]


def v2_inputs(rows, datatypes=None):
    """One V2 input per column the rows hold (the dropped one left out), as the data has it."""
    numeric = {"tenure - months": "INT64", "Monthly charge (€)": "FP64", "support calls": "INT64"}
    datatypes = {**numeric, **(datatypes or {})}
    names = [name for name in rows[0] if name != "notes"]
    return [
        {"name": name, "shape": [len(rows)], "datatype": datatypes.get(name, "BYTES"), "data": [r[name] for r in rows]}
        for name in names
    ]


def test_v2_takes_an_id_input_and_echoes_it_as_an_output(make_app, roles_project, frame, tmp_path):
    rows = new_rows(frame, 4)
    app = make_app(roles_project / "models", MLOPS_PREDICTION_LOG_DIR=tmp_path / "logs")
    client = app.test_client()
    labels, probabilities = predicted(client, rows)
    answer = client.post(INFER, json={"inputs": v2_inputs(rows, {ID: "INT64"})})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    outputs = {output["name"]: output for output in answer.get_json()["outputs"]}
    assert outputs[ID] == {"name": ID, "datatype": "INT64", "shape": [4], "data": [row[ID] for row in rows]}
    assert outputs["label"]["data"] == labels
    assert outputs["probabilities"]["data"] == [p for row in probabilities for p in row]
    logged = logged_rows(app, tmp_path / "logs")[-4:]  # after /predict's rows, without ids
    assert [entry["features"][ID] for entry in logged] == [row[ID] for row in rows]
    metadata = client.get(f"/v2/models/{MODEL}").get_json()
    assert metadata["parameters"]["ids"] == [ID] and ID not in [i["name"] for i in metadata["inputs"]]


def test_v2_ids_as_text_are_echoed_only_when_asked_for_by_name(client_roles, frame):
    rows = [{**row, ID: f"C-{row[ID]}"} for row in new_rows(frame, 2)]
    body = {"inputs": v2_inputs(rows), "outputs": [{"name": ID}]}
    answer = client_roles.post(INFER, json=body).get_json()
    assert answer["outputs"] == [{"name": ID, "datatype": "BYTES", "shape": [2], "data": [r[ID] for r in rows]}]
    outputs = client_roles.post(INFER, json={**body, "outputs": [{"name": "label"}]}).get_json()["outputs"]
    assert [output["name"] for output in outputs] == ["label"]
    without = {"inputs": [i for i in v2_inputs(rows) if i["name"] != ID]}
    assert [o["name"] for o in client_roles.post(INFER, json=without).get_json()["outputs"]] == OUTPUTS


OUTPUTS = ["label", "probabilities"]


@pytest.fixture
def client_roles(make_app, roles_project):
    return make_app(roles_project / "models").test_client()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"datatype": "FP32"}, "an id column takes datatype BYTES or an integer type, not FP32"),
        ({"datatype": "INT8", "data": [1000, 1]}, "value 1000 does not fit datatype INT8"),
        ({"shape": [3], "data": [1, 2, 3]}, "has 3 rows, the other inputs 2"),
        ({"shape": [2, 2], "data": [1, 2, 3, 4]}, "shape must be [N] or [N, 1]"),
        ({"datatype": "BYTES", "data": [{"a": 1}, "b"]}, "data is nested deeper than its shape"),
    ],
)
def test_a_bad_v2_id_input_is_a_400_naming_it(client_roles, frame, change, message):
    inputs = v2_inputs(new_rows(frame, 2), {ID: "INT64"})
    inputs = [{**i, **change} if i["name"] == ID else i for i in inputs]
    answer = client_roles.post(INFER, json={"inputs": inputs})
    assert answer.status_code == 400 and message in answer.get_json()["error"], answer.get_data(as_text=True)
    asked = client_roles.post(INFER, json={"inputs": [i for i in inputs if i["name"] != ID], "outputs": [{"name": ID}]})
    assert asked.status_code == 400 and "unknown output(s) ['customer id']" in asked.get_json()["error"]


def test_v2_binary_ids_come_back_as_tritonclient_sent_them(client_roles, frame):
    import numpy as np
    import tritonclient.http as triton

    from mlops.serving.binary_tensors import HEADER

    rows = new_rows(frame, 3)
    inputs = []
    for spec in v2_inputs(rows, {ID: "UINT64"}):
        tensor = triton.InferInput(spec["name"], spec["shape"], spec["datatype"])
        dtype = object if spec["datatype"] == "BYTES" else triton.triton_to_np_dtype(spec["datatype"])
        tensor.set_data_from_numpy(np.array(spec["data"], dtype=dtype), binary_data=True)
        inputs.append(tensor)
    requested = [triton.InferRequestedOutput(name, binary_data=True) for name in ("label", ID)]
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, outputs=requested)
    response = client_roles.post(INFER, data=body, headers={HEADER: str(json_size)})
    assert response.status_code == 200, response.get_data()[:300]
    result = triton.InferenceServerClient.parse_response_body(
        response.get_data(), header_length=int(response.headers[HEADER])
    )
    assert result.as_numpy(ID).tolist() == [row[ID] for row in rows] and result.as_numpy(ID).dtype == np.uint64
    assert [label.decode() for label in result.as_numpy("label")] == predicted(client_roles, rows)[0]


def as_csv(header, rows) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(([header] if header else []) + [["" if r[n] is None else r[n] for n in header or r] for r in rows])
    return out.getvalue()


def test_csv_with_a_header_takes_ids_and_dropped_columns_and_answers_them(make_app, roles_project, frame, tmp_path):
    rows = [{**row, "notes": "a, quoted note"} for row in new_rows(frame, 3)]
    rows[1][ID] = None
    app = make_app(roles_project / "models", MLOPS_PREDICTION_LOG_DIR=tmp_path / "logs")
    client = app.test_client()
    labels, _ = predicted(client, rows)
    header = ["notes", *reversed([name for name in rows[0] if name != "notes"])]  # any order, as the data has it
    body = as_csv(header, rows)
    as_json = client.post("/invocations", data=body, content_type="text/csv").get_json()
    assert as_json == {"predictions": labels, "ids": [{ID: str(rows[0][ID])}, {ID: None}, {ID: str(rows[2][ID])}]}
    as_text = client.post("/invocations", data=body, content_type="text/csv", headers={"Accept": "text/csv"})
    lines = as_text.get_data(as_text=True).splitlines()
    given = ["" if row[ID] is None else row[ID] for row in rows]
    assert lines == [f"{ID},prediction", *(f"{i},{p}" for i, p in zip(given, labels, strict=True))]
    schema_order = [name for name in rows[0] if name not in (ID, "notes")]
    plain = client.post("/invocations", data=as_csv(None, [{n: r[n] for n in schema_order} for r in rows]),
                        content_type="text/csv", headers={"Accept": "text/csv"})  # fmt: skip
    assert plain.get_data(as_text=True).splitlines() == labels  # without ids, as before
    logged = logged_rows(app, tmp_path / "logs")[3:6]  # after /predict's rows, the CSV request's
    assert [entry["features"][ID] for entry in logged] == [ids[ID] for ids in as_json["ids"]]


def test_invocations_json_and_arrow_echo_the_ids_they_are_given(client_roles, frame):
    import pyarrow as pa

    from mlops.serving.columnar import ARROW_STREAM

    rows = [{**row, "notes": "x"} for row in new_rows(frame, 3)]
    labels, _ = predicted(client_roles, rows)
    ids = [{ID: row[ID]} for row in rows]
    records = client_roles.post("/invocations", json={"dataframe_records": rows}).get_json()
    assert records == {"predictions": labels, "ids": ids}
    names = list(rows[0])
    split = {"columns": names, "data": [[row[n] for n in names] for row in rows]}
    assert client_roles.post("/invocations", json={"dataframe_split": split}).get_json() == records
    columnar = {name: [row[name] for row in rows] for name in names}
    assert client_roles.post("/invocations", json={"inputs": columnar}).get_json() == records
    table = pa.Table.from_pylist(rows)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    arrow = client_roles.post("/invocations", data=sink.getvalue().to_pybytes(), content_type=ARROW_STREAM)
    assert arrow.status_code == 200, arrow.get_data(as_text=True)
    assert arrow.get_json() == records
    without = client_roles.post("/invocations", json={"dataframe_records": [{k: v for k, v in r.items() if k != ID}
                                                                            for r in rows]})  # fmt: skip
    assert without.get_json() == {"predictions": labels}  # no ids given: MLflow's answer as before


ODD_IDS = ["", "x" * 20_000, 'ünïcødé 😀, with "quotes"\nand a line break', -(2**63), 2**64 - 1, 0, 10**18, None]


def test_an_id_of_any_type_or_length_is_taken_as_given(client_roles, frame):
    rows = [{**row, ID: value} for row, value in zip(new_rows(frame, len(ODD_IDS)), ODD_IDS, strict=True)]
    answer = post(client_roles, rows)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["ids"] == [{ID: value} for value in ODD_IDS]
    texts = [value for value in ODD_IDS if type(value) is str]
    inputs = v2_inputs([{**row, ID: text} for row, text in zip(rows, texts, strict=False)])
    echoed = client_roles.post(INFER, json={"inputs": inputs, "outputs": [{"name": ID}]}).get_json()
    assert echoed["outputs"][0]["data"] == texts
    numbers = [value for value in ODD_IDS if type(value) is int and value < 2**63]
    inputs = v2_inputs([{**row, ID: number} for row, number in zip(rows, numbers, strict=False)], {ID: "INT64"})
    echoed = client_roles.post(INFER, json={"inputs": inputs, "outputs": [{"name": ID}]}).get_json()
    assert echoed["outputs"][0]["data"] == numbers


@pytest.mark.parametrize(("value", "message"), [(2**64, "must fit in 64 bits"), (1.5, "text or a whole number"),
                                                ([1], "text or a whole number")])  # fmt: skip
def test_an_id_that_cannot_be_written_back_is_a_400(client_roles, frame, value, message):
    answer = post(client_roles, [{**new_rows(frame, 1)[0], ID: value}])
    assert answer.status_code == 400 and message in answer.get_json()["error"]["message"]


@pytest.mark.slow
def test_ids_through_the_real_server_on_every_protocol_then_feedback_joins_on_them(
    serve, roles_project, frame, tmp_path, monkeypatch
):
    """gunicorn on loopback: ids sent on /predict, CSV and Arrow /invocations and V2 come back, land in the
    prediction log, and `mlops feedback` joins labels keyed by those ids to them."""
    import urllib.request

    import pyarrow as pa
    import yaml

    from mlops import paths
    from mlops.cli import main
    from mlops.serving.columnar import ARROW_STREAM
    from tests.unit.conftest import MINIMAL_PARAMS

    logs = tmp_path / "logs"
    server = serve(roles_project / "models", workers=1, MLOPS_PREDICTION_LOG_DIR=str(logs))

    def call(path, body, content_type="application/json", accept="application/json"):
        request = urllib.request.Request(
            server.url + path, data=body, headers={"Content-Type": content_type, "Accept": accept}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    rows = new_rows(frame, 12)
    bare = [{k: v for k, v in row.items() if k != ID} for row in rows]
    labels = json.loads(call("/predict", json.dumps({"instances": bare}).encode()))["predictions"]
    answer = json.loads(call("/predict", json.dumps({"instances": rows[:3]}).encode()))
    assert answer["ids"] == [{ID: row[ID]} for row in rows[:3]] and answer["predictions"] == labels[:3]
    header = list(reversed(rows[0]))
    text = call("/invocations", as_csv(header, rows[3:6]).encode(), "text/csv", accept="text/csv").decode()
    lines = [f"{row[ID]},{label}" for row, label in zip(rows[3:6], labels[3:6], strict=True)]
    assert text.splitlines() == [f"{ID},prediction", *lines]
    outputs = json.loads(call(INFER, json.dumps({"inputs": v2_inputs(rows[6:9], {ID: "INT64"})}).encode()))
    echoed = {output["name"]: output["data"] for output in outputs["outputs"]}
    assert echoed[ID] == [row[ID] for row in rows[6:9]] and echoed["label"] == labels[6:9]
    table = pa.Table.from_pylist(rows[9:])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    arrow = json.loads(call("/invocations", sink.getvalue().to_pybytes(), ARROW_STREAM))
    assert arrow == {"predictions": labels[9:], "ids": [{ID: row[ID]} for row in rows[9:]]}
    server.stop()  # the log is written out as the worker stops

    monkeypatch.chdir(tmp_path)
    params = {**MINIMAL_PARAMS, "data": {"source": "sklearn:iris", "target": TARGET}}
    params["columns"], params["monitor"] = {"ids": [ID]}, {"concept_min_rows": 5}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    paths.METRICS.parent.mkdir(parents=True)
    shutil.copy(roles_project / paths.METRICS, paths.METRICS)
    truth = later(frame.rename(columns={TARGET: "Churn"}), 12)["Churn"]
    pd.DataFrame({ID: [row[ID] for row in rows], "label": truth}).to_csv("labels.csv", index=False)
    schema = str(roles_project / paths.SCHEMA)
    assert main(["feedback", "--labels", "labels.csv", "--logs", str(logs), "--schema", schema]) == 0
    found = json.loads((paths.FEEDBACK_DIR / "feedback.json").read_text())
    assert found["counts"]["matched"] == 12 and found["problems"] == 0
    assert found["logs"]["without_key"] == 12  # the 12 rows sent without ids, for reference
    joined = pd.read_parquet(paths.LABELLED)
    assert sorted(joined[ID]) == sorted(str(row[ID]) for row in rows)
    by_id = dict(zip([str(row[ID]) for row in rows], labels, strict=True))
    assert all(by_id[key] == prediction for key, prediction in zip(joined[ID], joined["prediction"], strict=True))


def test_ids_get_the_limits_every_body_has(make_app, roles_project, frame):
    client = make_app(roles_project / "models", MLOPS_MAX_BATCH_ROWS=5).test_client()
    rows = new_rows(frame, 5)
    full = as_csv(list(rows[0]), rows)  # a header line and the most rows: taken
    assert client.post("/invocations", data=full, content_type="text/csv").status_code == 200
    assert client.post("/invocations", data=full + full, content_type="text/csv").status_code == 413
    header = ",".join([ID] * 100_000) + "\n"  # one line of more fields than 5 full rows and a header hold
    answer = client.post("/invocations", data=header, content_type="text/csv")
    assert answer.status_code == 413 and answer.get_json()["error"]["code"] == "too_many_values"
    inputs = [{"name": ID, "shape": [10**9], "datatype": "INT64", "data": [1]}, *v2_inputs(new_rows(frame, 1))[1:]]
    inputs = [{**i, "shape": [10**9]} for i in inputs]
    answer = client.post(INFER, json={"inputs": inputs})
    assert answer.status_code == 413 and "limit is 5" in answer.get_json()["error"]


def test_kserve_v1_and_vertex_take_ids_in_records_and_log_them_answering_as_their_protocols_do(
    make_app, roles_project, frame, tmp_path
):
    rows = new_rows(frame, 2)
    app = make_app(
        roles_project / "models", MLOPS_PREDICTION_LOG_DIR=tmp_path / "logs", AIP_PREDICT_ROUTE="/vertex:predict"
    )
    client = app.test_client()
    labels, _ = predicted(client, rows)
    for path in (f"/v1/models/{MODEL}:predict", "/vertex:predict"):
        assert client.post(path, json={"instances": rows}).get_json() == {"predictions": labels}
    logged = logged_rows(app, tmp_path / "logs")[2:]  # after /predict's rows, without ids
    assert [entry["features"][ID] for entry in logged] == [row[ID] for row in rows] * 2


def test_v2_ids_beside_an_n_by_f_tensor_and_a_null_id_in_a_binary_answer(make_app, numeric_model_dir, tmp_path):
    """A model of numeric columns only, with an id column: the [N, F] tensor and an id input together."""
    directory = tmp_path / "models"
    shutil.copytree(numeric_model_dir, directory)
    metadata = json.loads((directory / "metadata.json").read_text())
    metadata["schema"]["ids"] = ["row"]
    (directory / "metadata.json").write_text(json.dumps(metadata))
    client = make_app(directory).test_client()
    tensor = {"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[5.0, 2.0], [3.0, 1.0]]}
    alone = client.post(INFER, json={"inputs": [tensor]}).get_json()["outputs"]
    row = {"name": "row", "shape": [2], "datatype": "INT32", "data": [7, None]}
    body = {"inputs": [tensor, row], "parameters": {"binary_data_output": True}}
    answer = client.post(INFER, json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    header = json.loads(answer.get_data()[: int(answer.headers["Inference-Header-Content-Length"])])
    outputs = {output["name"]: output for output in header["outputs"]}
    assert outputs["row"]["data"] == [7, None]  # a null cannot go as bytes: this output stays JSON
    assert "binary_data_size" in outputs["label"]["parameters"] and "data" not in outputs["label"]
    plain = client.post(INFER, json={"inputs": [tensor, row]}).get_json()["outputs"]
    assert plain[:2] == alone and plain[2] == {"name": "row", "datatype": "INT32", "shape": [2], "data": [7, None]}
