"""`mlops feedback` on synthetic logs written by the service's own prediction log writer:
every kind of label it must hold back, the rows it joins, the reports, and bad input."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops import paths
from mlops.cli import main
from mlops.monitoring.drift_command import join_labels, load_current
from mlops.monitoring.prediction_log import PredictionLog, row_id
from mlops.schema import Schema, infer_schema
from tests import factories
from tests.unit.conftest import MINIMAL_PARAMS


@pytest.fixture
def logged(tmp_path, monkeypatch):
    """A project with a schema, training metrics and 80 logged predictions; returns the logged rows with ids."""
    monkeypatch.chdir(tmp_path)
    data = factories.noiseless(200, seed=1)
    schema = infer_schema(data, factories.NOISELESS_TARGET)
    schema.save(paths.SCHEMA)
    params = {**MINIMAL_PARAMS, "data": {"source": "sklearn:iris", "target": factories.NOISELESS_TARGET}}
    params["monitor"] = {"concept_min_rows": 10}
    paths.PARAMS.write_text(yaml.safe_dump(params))
    paths.METRICS.parent.mkdir(parents=True)
    paths.METRICS.write_text(json.dumps({"accuracy": 0.9, "balanced_accuracy": 0.9}))
    rows = data.head(80)
    log = PredictionLog(tmp_path / "logs")
    features = rows[schema.columns].to_dict(orient="records")
    # The model is right on the first 60 rows and wrong on the last 20.
    predictions = [label if i < 60 else ("up" if label == "down" else "down") for i, label in enumerate(rows.outcome)]
    probabilities = [[0.9, 0.1] if p == "down" else [0.1, 0.9] for p in predictions]
    for start in range(0, 80, 20):
        stop = start + 20
        log.record(features[start:stop], predictions[start:stop], probabilities[start:stop], "1")
    log.close()
    records = [json.loads(line) for file in (tmp_path / "logs").glob("*.jsonl") for line in file.open()]
    assert len(records) == 80
    return pd.DataFrame({"id": [r["id"] for r in records], "label": rows.outcome.to_numpy(), **rows[schema.columns]})


def feedback(labels: pd.DataFrame, name: str = "labels.csv", *extra: str) -> int:
    if name.endswith(".csv"):
        labels.to_csv(name, index=False)
    else:
        labels.to_parquet(name, index=False)
    return main(["feedback", "--labels", name, "--logs", "logs", *extra])


def report() -> dict:
    return json.loads((paths.FEEDBACK_DIR / "feedback.json").read_text())


def test_matched_labels_become_training_rows_with_the_logged_features(logged):
    labels = logged[["id", "label"]].head(50)
    assert feedback(labels) == 0
    rows = pd.read_parquet(paths.LABELLED)
    assert len(rows) == 50 and report()["counts"]["matched"] == 50 and report()["problems"] == 0
    expected = logged.head(50).set_index("id")
    rows = rows.set_index("id").loc[expected.index]
    assert (rows[factories.NOISELESS_TARGET] == expected["label"]).all()
    for column in ("load", "spread", "tier"):
        assert (rows[column] == expected[column]).all()
    assert rows["predicted_at"].str.endswith("Z").all() and set(rows["prediction"]) <= set(factories.NOISELESS_CLASSES)


def test_duplicate_ids_are_held_back_every_copy_and_reported(logged):
    labels = pd.concat([logged[["id", "label"]].head(30), logged[["id", "label"]].iloc[[3, 4, 4]]])
    assert feedback(labels) == 0
    found = report()
    assert found["counts"]["duplicate"] == 5 and found["counts"]["matched"] == 28
    assert {e["id"] for e in found["examples"]["duplicate"]} == {logged.id[3], logged.id[4]}
    assert not pd.read_parquet(paths.LABELLED)["id"].isin([logged.id[3], logged.id[4]]).any()


def test_ids_that_match_nothing_are_reported_as_unmatched(logged):
    strangers = pd.DataFrame({"id": ["customer-17", "", "x"], "label": ["up", "up", "down"]})
    assert feedback(pd.concat([logged[["id", "label"]].head(20), strangers])) == 0
    found = report()
    assert found["counts"]["unmatched"] == 3 and found["counts"]["matched"] == 20
    assert {e["id"] for e in found["examples"]["unmatched"]} == {"customer-17", "", "x"}


def test_labels_for_rows_never_logged_are_reported_apart_from_unmatched_ids(logged):
    unlogged = [row_id(uuid.uuid4().hex, row) for row in range(4)]  # ids the service gives (a sampled-out row)
    labels = pd.concat([logged[["id", "label"]].head(20), pd.DataFrame({"id": unlogged, "label": "up"})])
    assert feedback(labels) == 0
    found = report()
    assert found["counts"]["never_logged"] == 4 and found["counts"]["unmatched"] == 0
    assert len(pd.read_parquet(paths.LABELLED)) == 20


def test_labels_outside_the_known_classes_are_held_back(logged):
    labels = logged[["id", "label"]].head(20).copy()
    labels.loc[[0, 1], "label"] = ["sideways", "UP"]
    labels.loc[2, "label"] = None
    assert feedback(labels) == 0
    found = report()
    assert found["counts"]["unknown_class"] == 3 and found["counts"]["matched"] == 17
    assert {e["label"] for e in found["examples"]["unknown_class"]} == {"sideways", "UP", ""}


def test_the_markdown_summary_counts_every_status_and_shows_examples(logged):
    labels = pd.concat([logged[["id", "label"]].head(20), pd.DataFrame({"id": ["customer-17"], "label": ["up"]})])
    assert feedback(labels, "labels.parquet") == 0  # Parquet reads like CSV
    summary = (paths.FEEDBACK_DIR / "feedback.md").read_text()
    assert "on the prediction id: **20 matched, 1 held back.** 60 logged predictions matched no label." in summary
    assert "| unmatched | 1 |" in summary and "`customer-17`: `up`" in summary
    assert "| duplicate | 0 |" in summary


def test_live_metrics_come_from_the_concept_drift_check(logged):
    assert feedback(logged[["id", "label"]]) == 0  # 60 right, 20 wrong: accuracy 0.75 against 0.9
    live = report()["live"]
    accuracy = next(row for row in live["metrics"] if row["metric"] == "accuracy")
    assert accuracy["live"] == pytest.approx(0.75) and accuracy["drifted"] and live["drift"] and live["rows"] == 80
    assert feedback(logged[["id", "label"]].head(60)) == 0  # the right ones only
    assert not report()["live"]["drift"]
    assert feedback(logged[["id", "label"]].head(5)) == 0  # fewer than monitor.concept_min_rows
    assert "fewer than monitor.concept_min_rows=10" in report()["live"]["skipped"]


def test_a_logged_row_fetched_twice_counts_once(logged, tmp_path):
    log_file = next((tmp_path / "logs").glob("*.jsonl"))
    (tmp_path / "logs" / "predictions-copy.jsonl").write_text(log_file.read_text())
    assert feedback(logged[["id", "label"]]) == 0
    assert report()["counts"]["matched"] == 80 and report()["logs"]["repeated_rows"] == 80


def test_an_id_with_leading_zeros_in_a_csv_keeps_them(logged, tmp_path):
    from mlops.monitoring.feedback import read_labels

    (tmp_path / "zeros.csv").write_text("id,label\n007,up\n")
    assert read_labels(tmp_path / "zeros.csv")["id"].tolist() == ["007"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "key,label\na,up\n",
            "no column 'id'; labels are joined on the prediction id: a labels file has the columns id",
        ),
        ("id,outcome\na,up\n", "no column 'label'"),
        ("id,label,timestamp\na,up,yesterday-ish\n", "row 1: timestamp 'yesterday-ish' is not a date and time"),
        ("", "is empty"),
    ],
)
def test_bad_labels_files_get_one_line_and_exit_1(logged, capsys, content, message):
    with open("labels.csv", "w") as handle:
        handle.write(content)
    assert main(["feedback", "--labels", "labels.csv", "--logs", "logs"]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1 and "Traceback" not in error
    assert not paths.LABELLED.exists()


def test_no_logs_is_an_error_not_an_empty_join(logged, capsys):
    logged[["id", "label"]].to_csv("labels.csv", index=False)
    assert main(["feedback", "--labels", "labels.csv", "--logs", "nowhere"]) == 1
    assert "nowhere not found" in capsys.readouterr().err


def test_timestamps_are_kept_as_the_time_each_label_was_known(logged):
    labels = logged[["id", "label"]].head(10).assign(timestamp="2026-03-01T08:00:00Z")
    assert feedback(labels) == 0
    rows = pd.read_parquet(paths.LABELLED)
    assert (rows["labelled_at"] == pd.Timestamp("2026-03-01T08:00:00Z")).all()


def test_a_csv_batch_without_prediction_ids_is_refused(logged, capsys):
    logged[["load", "spread", "tier"]].to_csv("batch.csv", index=False)
    logged[["id", "label"]].to_csv("labels.csv", index=False)
    assert main(["feedback", "--labels", "labels.csv", "--logs", "batch.csv"]) == 1
    assert "holds no prediction ids" in capsys.readouterr().err


# --- labels keyed by the data's own ids (columns.ids) ----------------------------------------------------

CUSTOMER = "customer id"


def log_with_ids(root, column: str = CUSTOMER, first: int = 5001, as_text: bool = True):
    """A project whose params declare the id column `column`, and 60 predictions logged as the service
    logs them: 20 with ids as numbers (JSON), 20 as text (CSV; numbers too unless `as_text`), 20 sent
    without ids; the model is right on all."""
    from mlops.config import ColumnsParams

    data = factories.noiseless(200, seed=1)
    data.insert(0, column, [first + index for index in range(200)])
    schema = infer_schema(data, factories.NOISELESS_TARGET, roles=ColumnsParams(ids=[column]))
    assert schema.ids == [column] and column not in schema.columns
    schema.save(paths.SCHEMA)
    params = {**MINIMAL_PARAMS, "data": {"source": "sklearn:iris", "target": factories.NOISELESS_TARGET}}
    params["monitor"], params["columns"] = {"concept_min_rows": 10}, {"ids": [column]}
    paths.PARAMS.write_text(yaml.safe_dump(params))
    paths.METRICS.parent.mkdir(parents=True)
    paths.METRICS.write_text(json.dumps({"accuracy": 0.9, "balanced_accuracy": 0.9}))
    rows = data.head(60)
    features = rows[[column, *schema.columns]].to_dict(orient="records")
    for row in features[20:40]:
        row[column] = str(row[column]) if as_text else row[column]
    for row in features[40:]:
        row[column] = None
    log = PredictionLog(root / "logs")
    outcome = list(rows.outcome)
    for start in range(0, 60, 20):
        probabilities = [[0.9, 0.1] if p == "down" else [0.1, 0.9] for p in outcome[start : start + 20]]
        log.record(features[start : start + 20], outcome[start : start + 20], probabilities, "1")
    log.close()
    return rows


@pytest.fixture
def logged_by_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return log_with_ids(tmp_path)


def test_an_id_column_called_id_and_ids_past_float_precision_join_whole(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = log_with_ids(tmp_path, column="id", first=2**62 + 1, as_text=False)  # 2**62 + 1, + 2: one float64
    assert (
        feedback(
            rows[["id", factories.NOISELESS_TARGET]].head(40).rename(columns={factories.NOISELESS_TARGET: "label"})
        )
        == 0
    )
    assert report()["joined_on"] == "ids" and report()["counts"]["matched"] == 40
    labelled = pd.read_parquet(paths.LABELLED)
    assert sorted(labelled["id"]) == sorted(str(value) for value in rows["id"].head(40))
    assert labelled["prediction_id"].str.fullmatch(r"[0-9a-f]{32}-[0-9]+").all()
    current, _ = load_current(Path("logs"), Schema.load(paths.SCHEMA))  # as mlops drift --labels reads them
    assert len(join_labels(current, labelled, Schema.load(paths.SCHEMA), "labelled")) == 40
    assert "| unmatched | 0 | an id column empty" in (paths.FEEDBACK_DIR / "feedback.md").read_text()


def test_labels_keyed_by_the_data_ids_join_their_logged_predictions(logged_by_ids):
    labels = (
        logged_by_ids[[CUSTOMER, factories.NOISELESS_TARGET]]
        .head(40)
        .rename(columns={factories.NOISELESS_TARGET: "label"})
    )
    assert feedback(labels) == 0
    found = report()
    assert found["key"] == [CUSTOMER] and found["counts"]["matched"] == 40 and found["problems"] == 0
    assert found["logs"]["without_key"] == 20 and found["logs"]["unlabelled"] == 20
    rows = pd.read_parquet(paths.LABELLED)
    assert list(rows.columns[:1]) == [CUSTOMER] and "id" in rows.columns  # the prediction id beside
    expected = logged_by_ids.head(40).set_index(CUSTOMER)
    rows = rows.set_index(rows[CUSTOMER].astype(int)).loc[expected.index]  # logged as numbers or as text
    for column in (factories.NOISELESS_TARGET, "load", "spread", "tier"):
        assert (rows[column] == expected[column]).all()
    assert found["live"]["rows"] == 40 and not found["live"]["drift"]  # concept drift judged on the joined rows


def test_duplicate_missing_and_unlogged_ids_are_held_back_and_counted(logged_by_ids, capsys):
    labels = pd.DataFrame(
        {CUSTOMER: ["5001", "5002", "5002", "", "9999", "5003"], "label": ["down", "up", "up", "up", "up", "nope"]}
    )
    labels.loc[0, "label"] = logged_by_ids.outcome.iloc[0]
    assert feedback(labels) == 0
    counts = report()["counts"]
    assert counts == {"matched": 1, "duplicate": 2, "unmatched": 1, "never_logged": 1, "unknown_class": 1}
    assert {e["id"] for e in report()["examples"]["duplicate"]} == {"5002"}
    assert "joined on customer id: 1 matched" in capsys.readouterr().out
    summary = (paths.FEEDBACK_DIR / "feedback.md").read_text()
    assert "joined on `customer id`" in summary and "| unmatched | 1 | an id column empty" in summary


def test_an_id_predicted_twice_is_joined_to_its_newest_prediction(logged_by_ids, tmp_path):
    again = {CUSTOMER: 5001, **logged_by_ids[["load", "spread", "tier"]].iloc[0].to_dict()}
    log = PredictionLog(tmp_path / "logs")
    log.record([again], ["up"], [[0.2, 0.8]], "2", "later")
    log.close()
    assert feedback(pd.DataFrame({CUSTOMER: ["5001"], "label": ["up"]})) == 0
    rows = pd.read_parquet(paths.LABELLED)
    assert list(rows["id"]) == ["later-0"] and list(rows["prediction"]) == ["up"]
    assert report()["logs"]["repredicted"] == 1


def test_a_labels_file_without_the_id_columns_is_one_line_naming_them(logged_by_ids, capsys):
    with open("labels.csv", "w") as handle:
        handle.write("id,label\nabc-0,up\n")
    assert main(["feedback", "--labels", "labels.csv", "--logs", "logs"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "no column 'customer id'; labels are joined on the id columns (columns.ids in params.yaml)" in error


def test_without_id_columns_labels_join_on_the_prediction_id(logged):
    assert feedback(logged[["id", "label"]].head(10)) == 0
    assert report()["key"] == ["id"] and report()["joined_on"] == "prediction_id"
    assert report()["counts"]["matched"] == 10


def test_id_columns_in_params_but_not_in_the_schema_ask_for_dvc_repro(logged, capsys):
    params = yaml.safe_load(paths.PARAMS.read_text())
    paths.PARAMS.write_text(yaml.safe_dump({**params, "columns": {"ids": ["customer id"]}}))
    assert feedback(logged[["id", "label"]].head(5)) == 1
    error = capsys.readouterr().err
    assert "has the id columns [], params.yaml names ['customer id']: run `dvc repro` first" in error
    assert error.count("\n") == 1
