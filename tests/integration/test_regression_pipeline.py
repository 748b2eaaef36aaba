"""A regression dataset through the whole pipeline with DVC, in a fresh copy of the repository.

README's steps with a numeric target: a generated CSV (numeric and categorical features, missing
values in both) into data/source/, `dvc add`, data.source, data.target and data.task: regression
in params.yaml, `mlops expectations infer`, `dvc repro`. Nothing else is edited: the report's
metric and the concept-drift metrics follow the task.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import factories
from tests.conftest import copy_repository, env_for, set_data_params

pytestmark = pytest.mark.slow
TARGET = "price"


def houses(rows: int = 300, seed: int = 3) -> pd.DataFrame:
    columns = {
        "area": factories.numeric(120, 30, missing=0.08),
        "rooms": factories.integers(1, 7),
        "district": factories.category(["north", "south", "east"], missing=0.1),
    }

    def price(frame, rng):
        north = np.where(frame["district"] == "north", 60_000, 0)
        return 2_000 * frame["area"] + 15_000 * frame["rooms"] + north + rng.normal(0, 20_000, rows)

    return factories.table(rows, seed, columns, price, target=TARGET).round({"area": 1, TARGET: 0})


def run(command: list[str], cwd: Path, env: dict, timeout: int = 1800) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    root = copy_repository(tmp_path_factory.mktemp("regression"))
    env = env_for(root)
    houses().to_csv(root / "data/source/houses.csv", index=False)
    run(["dvc", "add", "-q", "data/source/houses.csv"], root, env)
    set_data_params(root / "params.yaml", source="data/source/houses.csv", target=TARGET, task="regression")
    (root / "gx/expectations/raw_dataset.json").unlink()
    run([sys.executable, "-m", "mlops", "expectations", "infer"], root, env)
    output = run(["dvc", "repro"], root, env)
    return root, env, output


def test_the_suite_bounds_the_target_as_a_number(adopted):
    root, _, _ = adopted
    suite = json.loads((root / "gx/expectations/raw_dataset.json").read_text())
    on_target = {e["type"] for e in suite["expectations"] if e["kwargs"].get("column") == TARGET}
    assert "expect_column_values_to_be_between" in on_target and "expect_column_values_to_be_in_set" not in on_target


def test_every_stage_runs_and_writes_the_regression_metrics_plots_and_model(adopted):
    root, _, output = adopted
    assert "Running stage 'export'" in output
    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert set(metrics) == {"rmse", "mae", "r2", "max_error"} and metrics["r2"] > 0.5
    for figure in ("predicted_vs_actual", "residuals", "feature_importance"):
        assert (root / f"reports/figures/{figure}.png").read_bytes().startswith(b"\x89PNG")
    metadata = json.loads((root / "models/metadata.json").read_text())
    assert metadata["task"] == "regression" and metadata["classes"] == [] and metadata["parity"] is not None
    assert len(metadata["prediction_buckets"]) == 9
    scores = json.loads((root / "reports/cv/scores.json").read_text())
    assert set(scores) == {"metrics"} and set(scores["metrics"]) == set(metrics)  # the metrics file: metrics only
    assert json.loads((root / "reports/cv/plan.json").read_text())["fits"] == 10
    checks = json.loads((root / "reports/checks.json").read_text())
    assert checks["passed"] and checks["metric"] == "rmse" and checks["model"]["rmse"] < checks["baseline"]["rmse"]


def test_dvc_metrics_and_plots_show_the_regression_charts(adopted):
    root, env, _ = adopted
    assert "rmse" in run(["dvc", "metrics", "show"], root, env)
    diff = run(["dvc", "metrics", "diff", "HEAD"], root, env)  # against the committed example's metrics
    assert "rmse" in diff
    run(["dvc", "plots", "show", "--out", "plots-html"], root, env)
    page = (root / "plots-html/index.html").read_text()
    for title in ("Predicted vs actual", "Residuals", "Permutation feature importance"):
        assert title in page


def test_the_report_and_the_alert_rules_follow_the_task(adopted):
    root, env, _ = adopted
    run([sys.executable, "-m", "mlops", "report"], root, env)
    markdown = (root / "reports/pr/report.md").read_text()
    assert markdown.startswith("## ℹ️ Model report: rmse ") and "Predicted vs actual" in markdown
    rules = run([sys.executable, "-m", "mlops", "alert-rules", "--output", "rules.yml"], root, env)
    assert "test-split prediction shares" in rules
    assert "PredictionDistributionShift" in (root / "rules.yml").read_text()


def test_the_project_tests_hold_the_regression_model_to_its_checks(adopted):
    root, env, _ = adopted
    env = {key: value for key, value in env.items() if not key.startswith("PYTEST_")}
    output = run([sys.executable, "-m", "pytest", "tests/project", "-p", "no:cacheprovider", "-q"], root, env)
    assert re.search(r"\d+ passed", output) and " failed" not in output and "skipped" not in output, output[-2000:]
