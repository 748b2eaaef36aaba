"""mlops.metrics, the one list of metric names: what evaluate writes, what the report scores, which way
is better and which need probabilities all agree with it."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops import metrics
from mlops.metrics import compute_metrics, label_metrics, regression_metrics
from mlops.report import statistics
from mlops.report.statistics import Predictions
from tests import factories
from tests.unit.test_paths import string_constants


def classified(rows: int = 60) -> tuple[pd.Series, pd.Series, np.ndarray]:
    actual, proba = factories.scores(2, rows, seed=0)
    names = np.array(["no", "yes"])
    return pd.Series(names[actual]), pd.Series(names[proba.argmax(axis=1)]), proba


def test_evaluate_writes_the_listed_metrics_of_each_task_and_labels_alone_give_all_but_the_probability_ones():
    truth, guess, proba = classified()
    assert tuple(compute_metrics(truth, guess, proba, ["no", "yes"])) == metrics.TASK_METRICS["classification"]
    without_proba = tuple(
        name for name in metrics.TASK_METRICS["classification"] if name not in metrics.PROBABILITY_METRICS
    )
    assert tuple(label_metrics(truth, guess, ["no", "yes"])) == without_proba
    numbers = pd.Series([1.0, 2.0, 3.0])
    assert tuple(regression_metrics(numbers, numbers.to_numpy() + 1)) == metrics.TASK_METRICS["regression"]


@pytest.mark.parametrize("metric", sorted(statistics.SCORED))
def test_the_report_scores_every_metric_evaluate_writes(metric):
    rng = np.random.default_rng(1)
    rows = 40
    if metric in metrics.TASK_METRICS["regression"]:
        actual = rng.normal(size=rows)
        scored = Predictions(actual, actual + rng.normal(size=rows), np.empty((rows, 0)), np.arange(rows), rows)
    else:
        proba = rng.dirichlet(np.ones(3), rows)
        scored = Predictions(rng.integers(0, 3, rows), proba.argmax(axis=1), proba, np.arange(rows), rows)
    assert np.isfinite(statistics.score(metric, scored, np.ones((2, rows)))).all()


def test_errors_and_losses_count_lower_as_better_and_scores_higher():
    assert {name for name in statistics.SCORED if metrics.direction(name) < 0} == {
        "log_loss",
        "brier",
        "rmse",
        "mae",
        "max_error",
    }
    assert statistics.SCORED | set(metrics.CALIBRATION) >= metrics.LOWER_IS_BETTER


def test_a_concept_drift_check_may_name_every_metric_of_its_task_but_log_loss():
    assert metrics.concept_metrics("classification") == metrics.TASK_METRICS["classification"][:-1]
    assert metrics.concept_metrics("regression") == metrics.TASK_METRICS["regression"]
    for task, defaults in metrics.DEFAULT_CONCEPT_METRICS.items():
        assert set(defaults) <= set(metrics.concept_metrics(task))
        assert metrics.DEFAULT_METRIC[task] in metrics.TASK_METRICS[task]


def test_one_module_spells_the_probability_column_names():
    """proba_<class> is spelled in mlops.metrics alone; every table of predictions takes its names from there."""
    assert metrics.probability_columns(["no", "yes"]) == ["proba_no", "proba_yes"]
    package = Path(metrics.__file__).parent
    spelled = [
        f"{module.relative_to(package)}:{node.lineno}"
        for module in sorted(package.rglob("*.py"))
        if module != Path(metrics.__file__)
        for node in string_constants(ast.parse(module.read_text(encoding="utf-8")))
        if "proba_" in node.value
    ]
    assert spelled == []
