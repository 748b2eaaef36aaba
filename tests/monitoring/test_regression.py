"""Monitoring a regression model (data.task: regression) on a synthetic project: drift of the predicted
numbers (KS test and PSI over the held-out predictions' quantile bins), concept drift on the error
metrics (their rise relative to training's), and late numeric labels joined by `mlops feedback`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mlops import paths
from mlops.cli import main
from mlops.io import read_table
from mlops.monitoring import concept
from mlops.monitoring.prediction_log import PredictionLog
from tests import factories

from .conftest import write_project

TARGET = "amount"


def make_frame(rows: int, seed: int) -> pd.DataFrame:
    """`size`, `weight`, `grade` and the target: 200 + 12 size + 2 weight + 0, 15 or 30 by grade, plus noise."""

    def amount(frame, rng):
        bonus = frame["grade"].map({"low": 0.0, "mid": 15.0, "high": 30.0})
        return (200 + 12 * frame["size"] + 2 * frame["weight"] + bonus + rng.normal(0, 4, rows)).round(3)

    columns = {
        "size": factories.numeric(10, 2, decimals=3),
        "weight": factories.numeric(50, 8, decimals=3),
        "grade": factories.category(["low", "mid", "high"]),
    }
    return factories.table(rows, seed, columns, amount, target=TARGET)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A repository-shaped directory with what `mlops drift` and `mlops feedback` read."""
    from mlops.pipeline.prepare import prepare
    from mlops.pipeline.train import fit

    root = tmp_path_factory.mktemp("regression-monitoring")
    train, test, schema = prepare(make_frame(600, 0), TARGET, 0.25, 42, task="regression")
    write_project(root, train, test, schema, fit(train, schema, "ridge", {}, seed=0))
    return root


@pytest.fixture
def project(tmp_path, template, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    return root


def report(project) -> dict:
    return json.loads((project / "reports/drift/drift.json").read_text())


def test_a_batch_like_training_is_no_drift_and_its_predictions_are_checked_as_a_number(project):
    make_frame(300, 5).drop(columns=TARGET).to_csv("batch.csv", index=False)
    assert main(["drift", "--current", "batch.csv"]) == 0  # predicted by the model at hand
    result = report(project)
    assert result["prediction_columns"] == ["prediction"] and not result["drift_detected"]
    (column,) = [c for c in result["columns"] if c["role"] == "prediction"]
    assert column["kind"] == "numeric" and column["test"] == "ks" and column["psi"] < 0.1


def test_logged_predictions_that_moved_are_prediction_drift_not_data_drift(project):
    from mlops.schema import Schema

    schema = Schema.load(paths.SCHEMA)
    test = read_table(paths.TEST)
    rows = schema.features_frame(test).to_dict(orient="records")
    reference = read_table(paths.PREDICTIONS)["predicted"].to_numpy()
    log = PredictionLog(project / "logs")
    log.record(rows, (reference + 3 * reference.std()).tolist(), None, "1", "a" * 32)  # the model went off
    log.close()
    assert main(["drift", "--current", "logs"]) == 3
    result = report(project)
    assert result["prediction_drift"] and not result["data_drift"] and result["drifted_predictions"] == ["prediction"]
    assert "| prediction | prediction | ks |" in (project / "reports/drift/drift.md").read_text()


def test_labels_judge_concept_drift_on_the_relative_rise_of_the_errors(project):
    batch = make_frame(200, 6)
    batch.to_csv("clean.csv", index=False)
    assert main(["drift", "--current", "clean.csv", "--labels", "clean.csv"]) == 0
    clean = report(project)
    assert clean["concept"]["rows"] == 200 and not clean["concept_drift"]
    assert [row["metric"] for row in clean["concept"]["metrics"]] == ["rmse", "mae"]  # the regression defaults

    noisy = batch.assign(**{TARGET: batch[TARGET] + np.random.default_rng(7).normal(0, 12, len(batch))})
    noisy.to_csv("noisy.csv", index=False)  # the world changed: the same inputs, other outcomes
    assert main(["drift", "--current", "clean.csv", "--labels", "noisy.csv"]) == 3
    result = report(project)
    rmse = next(row for row in result["concept"]["metrics"] if row["metric"] == "rmse")
    training = json.loads((project / paths.METRICS).read_text())["rmse"]
    assert rmse["relative"] and rmse["drifted"] and rmse["live"] > 2 * training
    assert rmse["drop"] == pytest.approx((rmse["live"] - training) / training, abs=1e-5)
    assert (
        f"| rmse | {training:.4f} | {rmse['live']:.4f} | {rmse['drop']:+.1%} | **drift** |"
        in (project / "reports/drift/drift.md").read_text()
    )


def test_concept_drift_counts_a_rise_of_an_error_and_a_fall_of_r2_as_worse():
    live = {"rmse": 11.0, "mae": 9.0, "r2": 0.80}
    training = {"rmse": 10.0, "mae": 10.0, "r2": 0.90}
    rows = {r["metric"]: r for r in concept.concept_drift(live, training, 0.05)["metrics"]}
    assert rows["rmse"]["drop"] == pytest.approx(0.1) and rows["rmse"]["drifted"]  # 10% larger errors
    assert rows["mae"]["drop"] == pytest.approx(-0.1) and not rows["mae"]["drifted"]  # smaller errors: better
    assert rows["r2"]["drop"] == pytest.approx(0.1) and rows["r2"]["drifted"] and not rows["r2"]["relative"]


def test_feedback_joins_numeric_labels_and_holds_back_ones_that_are_not_numbers(project):
    from mlops.schema import Schema

    schema = Schema.load(paths.SCHEMA)
    batch = make_frame(80, 8)
    log = PredictionLog(project / "data/production/logs")
    log.record(schema.features_frame(batch).to_dict(orient="records"), [300.0] * 80, None, "1", "b" * 32)
    log.close()
    labels = pd.DataFrame({"id": [f"{'b' * 32}-{i}" for i in range(80)], "label": batch[TARGET].astype(str)})
    labels.loc[3, "label"] = "about 300"
    labels.loc[4, "label"] = "inf"
    labels.to_csv("labels.csv", index=False)

    assert main(["feedback", "--labels", "labels.csv", "--logs", "data/production/logs"]) == 0
    feedback = json.loads((project / "reports/feedback/feedback.json").read_text())
    assert feedback["counts"]["matched"] == 78 and feedback["counts"]["unknown_class"] == 2
    assert {e["label"] for e in feedback["examples"]["unknown_class"]} == {"about 300", "inf"}
    assert (
        "label empty or not a finite number (a regression model)"
        in (project / "reports/feedback/feedback.md").read_text()
    )
    labelled = read_table(project / paths.LABELLED)
    assert labelled[TARGET].dtype == "float64" and len(labelled) == 78
    assert feedback["live"]["rows"] == 78 and {row["metric"] for row in feedback["live"]["metrics"]} == {"rmse", "mae"}


def test_simulated_batches_keep_a_numeric_target_and_their_label_noise_is_concept_drift(project):
    assert main(["simulate", "--output", "clean.csv", "--rows", "200", "--seed", "4"]) == 0
    assert read_table("clean.csv")[TARGET].dtype == "float64"
    assert main(["drift", "--current", "clean.csv", "--labels", "clean.csv"]) == 0
    assert main(["simulate", "--output", "noisy.csv", "--rows", "200", "--seed", "4", "--label-noise", "0.5"]) == 0
    clean, noisy = read_table("clean.csv")[TARGET], read_table("noisy.csv")[TARGET]
    assert 0.4 < (clean != noisy).mean() < 0.6  # half the rows got another row's target
    assert main(["drift", "--current", "noisy.csv", "--labels", "noisy.csv"]) == 3
    assert report(project)["concept_drift"] and not report(project)["data_drift"]
