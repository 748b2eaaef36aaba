"""The report for a regression model (data.task: regression), on synthetic runs: error metrics where
lower is better (RMSE, MAE, max error) and R² where higher is, intervals under resampling, the
verdict's direction, slices, and charts of predictions against actual values and of residuals."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from mlops.cli import main
from mlops.metrics import regression_metrics
from mlops.report import statistics
from tests.report.synthetic import RegressionModel, regression_dataset, regression_params, write_regression_run


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """main's run, and pull requests with larger errors, smaller errors, and larger errors in one segment."""
    root = tmp_path_factory.mktemp("regression-runs")
    data = regression_dataset()
    main_model = RegressionModel(error=2.0, seed=1)
    return {
        "main": write_regression_run(root / "main", data, main_model, regression_params(), "a" * 40),
        "worse": write_regression_run(root / "worse", data, RegressionModel(3.0, 2), regression_params(), "b" * 40),
        "better": write_regression_run(root / "better", data, RegressionModel(1.0, 3), regression_params(), "c" * 40),
        "slice": write_regression_run(
            root / "slice", data, RegressionModel(2.0, 4, {"c": 8.0}), regression_params(), "d" * 40
        ),
    }


def report(made, tmp_path, side: str, **report_params) -> tuple[str, dict]:
    work = tmp_path / "work"
    shutil.copytree(made[side], work)
    if report_params:
        params = regression_params()
        params["report"].update(report_params)
        (work / "params.yaml").write_text(json.dumps(params))
    cwd = os.getcwd()
    os.chdir(work)
    try:
        assert main(["report", "--baseline-dir", str(made["main"])]) == 0
    finally:
        os.chdir(cwd)
    out = work / "reports/pr"
    return (out / "report.md").read_text(), json.loads((out / "verdict.json").read_text())


def test_error_metrics_under_resampling_weights_match_the_pipelines_and_repeated_rows():
    rng = np.random.default_rng(0)
    actual = rng.normal(10, 3, 50)
    predicted = actual + rng.normal(0, 1, 50)
    runs = statistics.Predictions(actual, predicted, np.empty((50, 0)), np.arange(50), 50)
    expected = regression_metrics(actual, predicted)
    weights = np.vstack([np.ones(50), np.r_[2.0, np.zeros(9), np.ones(40)]])
    repeated = np.r_[0, np.arange(10, 50)]  # the second row of weights: row 0 twice, rows 1-9 not drawn
    twice = regression_metrics(np.r_[actual[repeated], actual[0]], np.r_[predicted[repeated], predicted[0]])
    for metric, value in expected.items():
        scored = statistics.score(metric, runs, weights)
        assert scored[0] == pytest.approx(value, abs=1e-6), metric
        assert scored[1] == pytest.approx(twice[metric], abs=1e-6), metric


def test_larger_errors_are_worse_in_rmse(made, tmp_path):
    markdown, verdict = report(made, tmp_path, "worse")
    assert markdown.startswith("## ❌ Model report: worse in rmse against main@aaaaaaa")
    assert verdict["status"] == "worse" and verdict["metric"] == "rmse"
    assert verdict["difference"] > 0 and verdict["low"] > 0.1, verdict  # RMSE rose by more than max_drop
    bold = [line for line in markdown.splitlines() if line.startswith("| **rmse** |")]
    assert len(bold) == 2 and all(line.endswith("| 🔴 |") for line in bold), bold  # cross-validation, test split


def test_smaller_errors_are_better_and_the_charts_fit_regression(made, tmp_path):
    markdown, verdict = report(made, tmp_path, "better")
    assert markdown.startswith("## ✅ Model report: better in rmse against main@aaaaaaa")
    assert verdict["status"] == "better" and verdict["high"] < 0, verdict  # RMSE fell
    assert "Predicted vs actual, mean per tenth of the actual values (blue: this PR, grey: main@aaaaaaa" in markdown
    assert "Residuals, actual minus predicted (bars: this PR, line: main@aaaaaaa)" in markdown
    assert 'y-axis "drop in R² when shuffled"' in markdown
    for absent in ("Confusion", "Calibration", "McNemar", "ROC", "Precision-recall", "stratified"):
        assert absent not in markdown, absent
    for name in ("mae", "r2", "max_error"):
        assert f"| {name} |" in markdown, name
    for figure in ("predicted_vs_actual", "residuals"):
        assert (tmp_path / "work/reports/pr" / f"{figure}.png").read_bytes().startswith(b"\x89PNG")
    page = (tmp_path / "work/reports/pr/report.html").read_text()
    assert 'alt="predicted_vs_actual"' in page and 'alt="residuals"' in page and "```mermaid" not in page


def test_r2_counts_higher_as_better(made, tmp_path):
    markdown, verdict = report(made, tmp_path, "worse", metric="r2", max_drop=0.001)
    assert verdict["status"] == "worse" and verdict["metric"] == "r2" and verdict["high"] < 0, verdict
    bold = [line for line in markdown.splitlines() if line.startswith("| **r2** |")]
    assert len(bold) == 2 and all(line.endswith("| 🔴 |") for line in bold), bold


def test_a_segment_with_larger_errors_is_named_first_among_the_worse_slices(made, tmp_path):
    """Its large errors also raise the RMSE of the numeric bins it shares rows with; the other segments stay."""
    markdown, _ = report(made, tmp_path, "slice")
    assert "slices got significantly worse in rmse" in markdown
    worse = [
        line for line in markdown.split("### Slices")[1].splitlines() if line.startswith("| ") and "|---" not in line
    ]
    assert worse[1].startswith("| segment = c |"), worse  # worse[0] is the header
    assert not [line for line in worse if line.startswith(("| segment = a |", "| segment = b |"))], worse
