"""`mlops drift` end to end on a synthetic dataset: outputs, exit codes, logs, labels, bad input."""

import json

import pytest
import yaml

from mlops.cli import main
from mlops.config import MonitorParams
from mlops.monitoring.prediction_log import PredictionLog
from tests.conftest import REPO_ROOT

from .conftest import CLASSES, FEATURES


def simulate(*args):
    assert main(["simulate", *args]) == 0


def test_an_unshifted_batch_is_no_drift_and_writes_the_three_reports(project, capsys):
    simulate("--output", "data/production/", "--rows", "300", "--seed", "3")
    assert main(["drift"]) == 0  # the newest batch in monitor.source
    report = json.loads((project / "reports/drift/drift.json").read_text())
    assert report["drift_detected"] is False and report["prediction_columns"] == ["prediction", f"proba_{CLASSES[1]}"]
    assert report["current"]["rows"] == 300 and report["features"] == len(FEATURES)
    assert (project / "reports/drift/drift.md").read_text().startswith("## No drift")
    assert "<svg" in (project / "reports/drift/drift.html").read_text()
    assert "drift: no drift" in capsys.readouterr().out


def test_a_shifted_feature_is_drift_with_exit_3_worst_first(project):
    simulate("--output", "batch.csv", "--rows", "300", "--shift", "size=1.5")
    assert main(["drift", "--current", "batch.csv"]) == 3
    report = json.loads((project / "reports/drift/drift.json").read_text())
    assert report["drift_detected"] and report["data_drift"] and "size" in report["drifted_features"]
    assert report["columns"][0]["drifted"] and report["drift_score"] >= report["thresholds"]["psi"]
    table = (project / "reports/drift/drift.md").read_text().splitlines()
    first_row = next(line for line in table if line.startswith("| ") and "**drift**" in line)
    assert table.index(first_row) == next(i for i, line in enumerate(table) if line.startswith("|---")) + 1


def test_prediction_logs_are_read_as_the_current_side(project, dataset):
    _, test, schema = dataset
    log = PredictionLog(project / "logs")
    rows = schema.features_frame(test).to_dict(orient="records")
    as_lists = [list(row.values()) for row in rows]
    predicted = [CLASSES[1]] * len(rows)  # the model suddenly calls everything positive
    log.record(rows, predicted, [[0.1, 0.9]] * len(rows), "1")
    log.record(as_lists, predicted, [[0.1, 0.9]] * len(rows), "1")
    log.close()
    assert main(["drift", "--current", "logs"]) == 3
    report = json.loads((project / "reports/drift/drift.json").read_text())
    assert report["current"]["rows"] == 2 * len(rows)
    assert not report["data_drift"] and report["prediction_drift"]  # the inputs are fine, the outputs are not
    assert set(report["drifted_predictions"]) == {"prediction", f"proba_{CLASSES[1]}"}


def test_labels_measure_concept_drift(project):
    simulate("--output", "clean.csv", "--rows", "200", "--seed", "4")
    assert main(["drift", "--current", "clean.csv", "--labels", "clean.csv"]) == 0
    clean = json.loads((project / "reports/drift/drift.json").read_text())
    assert clean["concept"]["rows"] == 200 and not clean["concept_drift"]
    simulate("--output", "flipped.csv", "--rows", "200", "--seed", "4", "--label-noise", "0.3")
    assert main(["drift", "--current", "flipped.csv", "--labels", "flipped.csv"]) == 3
    flipped = json.loads((project / "reports/drift/drift.json").read_text())
    assert flipped["concept_drift"] and not flipped["data_drift"]
    accuracy = next(row for row in flipped["concept"]["metrics"] if row["metric"] == "accuracy")
    assert accuracy["drifted"] and accuracy["drop"] > 0.15
    assert "Concept drift" in (project / "reports/drift/drift.md").read_text()


def logged_without_probabilities(project, dataset):
    """The test split logged with predicted labels only (as another system might log them), and its labels."""
    from mlops.monitoring.prediction_log import row_id

    _, test, schema = dataset
    log = PredictionLog(project / "logs")
    log.record(schema.features_frame(test).to_dict(orient="records"), [CLASSES[0]] * len(test), None, "1", "b")
    log.close()
    ids = [row_id("b", index) for index in range(len(test))]
    (project / "labels.csv").write_text(test.assign(id=ids)[["id", "target"]].to_csv(index=False))
    return (test["target"] == CLASSES[0]).mean()


def test_label_metrics_need_no_probabilities(project, dataset):
    share = logged_without_probabilities(project, dataset)  # every row called the first class
    assert main(["drift", "--current", "logs", "--labels", "labels.csv"]) == 3
    concept = json.loads((project / "reports/drift/drift.json").read_text())["concept"]
    live = {row["metric"]: row["live"] for row in concept["metrics"]}
    assert live == {"accuracy": pytest.approx(share, abs=1e-6), "balanced_accuracy": 0.5}


def test_a_probability_metric_without_probabilities_is_one_clear_line(project, dataset, capsys):
    logged_without_probabilities(project, dataset)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["monitor"] = {**params.get("monitor", {}), "concept_metrics": ["accuracy", "roc_auc"]}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["drift", "--current", "logs", "--labels", "labels.csv"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "monitor.concept_metrics roc_auc need the predicted probabilities" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--current", "missing.csv"], "missing.csv not found"),
        (["--current", "empty-dir"], "no CSV/Parquet batch or prediction log in empty-dir"),
        (["--current", "wrong.csv"], f"wrong.csv: missing feature column(s): {FEATURES[0]}"),
        (["--current", "batch.csv", "--labels", "wrong.csv"], "no column 'target'"),
    ],
)
def test_bad_input_is_one_line_exit_1_and_keeps_the_previous_report(project, capsys, args, message):
    simulate("--output", "batch.csv", "--rows", "50")
    assert main(["drift", "--current", "batch.csv"]) == 0
    before = (project / "reports/drift/drift.json").read_bytes()
    (project / "empty-dir").mkdir()
    (project / "wrong.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    capsys.readouterr()
    assert main(["drift", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlops drift: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert (project / "reports/drift/drift.json").read_bytes() == before


def test_the_documented_thresholds_are_the_params_defaults():
    text = (REPO_ROOT / "docs/monitoring.md").read_text()
    monitor = MonitorParams()
    assert f"psi_threshold: {monitor.psi_threshold}" in text and f"p_value: {monitor.p_value}" in text
