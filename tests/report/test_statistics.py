"""The report's statistics: interval coverage by simulation, and the fast metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from mlops.metrics import compute_metrics
from mlops.report import statistics
from mlops.report.statistics import Predictions
from tests import factories


def equicorrelated(rng, count: int, correlation: float, size: int) -> np.ndarray:
    """`size` draws of `count` standard normals with the given pairwise correlation."""
    shared = rng.normal(size=(size, 1)) * np.sqrt(correlation)
    return shared + rng.normal(size=(size, count)) * np.sqrt(1 - correlation)


def test_corrected_t_interval_covers_the_true_difference_95_percent_of_the_time():
    # Fold differences correlated as k-fold's overlapping training sets make them:
    # Nadeau and Bengio's model, correlation n_test / n (here 1/5).
    rng = np.random.default_rng(0)
    true_difference, ratio, draws = 0.02, 0.25, 4000
    samples = true_difference + 0.03 * equicorrelated(rng, 10, ratio / (1 + ratio), draws)
    covered = [statistics.corrected_t(sample, ratio, 0.95) for sample in samples]
    share = np.mean([item.low <= true_difference <= item.high for item in covered])
    assert 0.93 <= share <= 0.97, share


def test_the_uncorrected_t_interval_would_be_too_sure():
    rng = np.random.default_rng(1)
    samples = 0.03 * equicorrelated(rng, 10, 0.2, 2000)
    share = np.mean([statistics.corrected_t(sample, 0.0, 0.95).low <= 0 for sample in samples])
    assert share < 0.9  # with no correction the same intervals miss far more often


@pytest.mark.slow
def test_paired_bootstrap_interval_covers_a_known_accuracy_difference():
    rng = np.random.default_rng(2)
    rows, truth, hits = 300, 0.05, 0
    trials = 400
    for trial in range(trials):
        new = rng.random(rows) < 0.85
        old = rng.random(rows) < 0.80
        interval = statistics.bootstrap(
            lambda w, new=new: w @ new / rows, lambda w, old=old: w @ old / rows, rows, 1000, trial, 0.95
        )
        hits += interval.low <= truth <= interval.high
    assert 0.93 <= hits / trials <= 0.97, hits / trials


def test_unpaired_corrected_t_agrees_with_welch_when_uncorrected():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.9, 0.02, 10), rng.normal(0.88, 0.03, 10)
    interval = statistics.corrected_t_unpaired(a, b, 0.0, 0.95)
    welch = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert interval.p_value == pytest.approx(welch.pvalue)
    assert interval.estimate == pytest.approx(a.mean() - b.mean())


def test_mcnemar_exact_counts_discordant_rows():
    new = np.array([1, 1, 1, 1, 1, 1, 0, 1], bool)
    old = np.array([0, 0, 0, 0, 0, 1, 1, 1], bool)
    assert statistics.mcnemar_exact(new, old) == (5, 1, pytest.approx(scipy_stats.binomtest(5, 6).pvalue))
    assert statistics.mcnemar_exact(new, new) == (0, 0, 1.0)


def predictions(classes: int, rows: int, seed: int) -> tuple[Predictions, list[str]]:
    actual, proba = factories.scores(classes, rows, seed, skill=1.0)
    labels = [f"class_{index}" for index in range(classes)]
    return Predictions(actual, proba.argmax(axis=1), proba, np.arange(rows), rows), labels


@pytest.mark.parametrize("classes", [2, 3])
def test_fast_metrics_equal_the_pipelines(classes):
    scored, labels = predictions(classes, 200, classes)
    names = np.array(labels)
    expected = compute_metrics(
        pd.Series(names[scored.actual]), pd.Series(names[scored.predicted]), scored.proba, labels
    )
    for metric, value in expected.items():
        assert statistics.score(metric, scored, np.ones((1, 200)))[0] == pytest.approx(value, abs=1e-6), metric


def test_weights_count_rows_and_a_row_carries_all_its_predictions():
    scored, _ = predictions(2, 50, 5)
    doubled = np.zeros(50)
    doubled[:25] = 2  # the first half twice, the second not at all
    first_half = scored.subset(np.arange(50) < 25)
    for metric in ("accuracy", "f1", "log_loss", "roc_auc"):
        assert statistics.score(metric, scored, doubled[None, :])[0] == pytest.approx(
            statistics.score(metric, first_half, np.ones((1, 25)))[0]
        ), metric


def test_a_calibrated_model_has_a_small_calibration_error_and_an_overconfident_one_a_large():
    rng = np.random.default_rng(6)
    p = rng.random(20_000)
    actual = (rng.random(20_000) < p).astype(int)
    calibrated = Predictions(actual, (p > 0.5).astype(int), np.column_stack([1 - p, p]), np.arange(20_000), 20_000)
    bins, error = statistics.reliability(calibrated)
    assert error < 0.02 and len(bins) == 10
    sharp = np.where(p > 0.5, 0.99, 0.01)
    overconfident = Predictions(
        actual, calibrated.predicted, np.column_stack([1 - sharp, sharp]), calibrated.row, 20_000
    )
    assert statistics.reliability(overconfident)[1] > 0.2
    assert statistics.brier(overconfident) > statistics.brier(calibrated)
