from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mlops.config import MonitorParams
from mlops.monitoring import concept, drift

DEFAULTS = drift.Thresholds.from_params(MonitorParams())


def compare(reference, current, kinds, thresholds):
    """The verdict on the feature columns in `kinds`, as `mlops drift` reaches it."""
    return drift.summarise(drift.compare_columns(reference, current, kinds, thresholds), thresholds)


def test_psi_is_zero_for_identical_samples_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=2000)
    edges = drift.quantile_edges(sample, 10)
    same = drift.psi_from_counts(drift.numeric_counts(sample, edges), drift.numeric_counts(sample, edges))
    small = drift.numeric_drift(sample, sample + 0.2, 10)["psi"]
    large = drift.numeric_drift(sample, sample + 1.0, 10)["psi"]
    assert same == pytest.approx(0.0, abs=1e-12)
    assert 0 < small < large
    assert large > 0.5  # a one-standard-deviation shift is a large PSI


def test_numeric_drift_counts_missing_values_as_their_own_bin():
    reference = np.arange(200, dtype=float)
    current = reference.copy()
    current[::2] = np.nan  # every other value: the present ones keep the distribution
    result = drift.numeric_drift(reference, current, 10)
    assert result["psi"] > 1.0  # half the rows went missing: a shift
    assert result["p_value"] > 0.01  # ...that KS, on present values only, does not see


def test_categorical_drift_uses_chi_square_and_sees_a_new_mix():
    reference = np.array(["a"] * 500 + ["b"] * 500, dtype=object)
    same_mix = np.array(["a"] * 100 + ["b"] * 100, dtype=object)
    new_mix = np.array(["a"] * 180 + ["b"] * 10 + ["c"] * 10, dtype=object)
    quiet, shifted = drift.categorical_drift(reference, same_mix), drift.categorical_drift(reference, new_mix)
    assert quiet["test"] == "chi2" and quiet["p_value"] > 0.5 and quiet["psi"] < 0.01
    assert shifted["p_value"] < 1e-10 and shifted["psi"] > 0.5


def test_a_column_drifts_only_when_both_the_test_and_the_psi_say_so():
    rng = np.random.default_rng(1)
    big = pd.DataFrame({"x": rng.normal(size=20000)})
    slightly = pd.DataFrame({"x": rng.normal(0.08, size=20000)})  # significant on 20k rows, PSI tiny
    few = pd.DataFrame({"x": rng.normal(size=8)})
    few_shifted = few.assign(x=few["x"] * 8)  # PSI large on 8 rows, test not significant
    thresholds = DEFAULTS
    kinds = {"x": "numeric"}
    tiny = compare(big, slightly, kinds, thresholds)["columns"][0]
    assert tiny["p_value"] < thresholds.p_value and tiny["psi"] < thresholds.psi and not tiny["drifted"]
    noisy = compare(big, few_shifted, kinds, thresholds)["columns"][0]
    assert noisy["psi"] >= thresholds.psi and not noisy["drifted"]
    real = compare(big, big.assign(x=big["x"] + 1), kinds, thresholds)
    assert real["data_drift"] and real["drifted_features"] == ["x"]


def test_compare_sorts_worst_first_and_scores_the_largest_feature_psi():
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({name: rng.normal(size=1000) for name in "abc"})
    current = reference.sample(500, random_state=0).assign(b=lambda f: f["b"] + 2)
    result = compare(reference, current, dict.fromkeys("abc", "numeric"), DEFAULTS)
    assert result["columns"][0]["column"] == "b"
    assert result["drift_score"] == pytest.approx(result["columns"][0]["psi"], abs=1e-6)
    assert result["share_drifted"] == pytest.approx(1 / 3, abs=1e-6)
    assert len(result["columns"][0]["histogram"]["labels"]) == drift.HISTOGRAM_BINS


def test_min_drifted_features_raises_the_bar_for_the_data_verdict():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({name: rng.normal(size=1000) for name in "ab"})
    current = reference.assign(a=lambda f: f["a"] + 2)
    kinds = dict.fromkeys("ab", "numeric")
    assert compare(reference, current, kinds, replace(DEFAULTS, min_drifted=1))["data_drift"]
    assert not compare(reference, current, kinds, replace(DEFAULTS, min_drifted=2))["data_drift"]


def test_concept_drift_flags_a_drop_beyond_the_threshold_only():
    result = concept.concept_drift({"accuracy": 0.80, "f1": 0.94}, {"accuracy": 0.97, "f1": 0.96}, max_drop=0.05)
    verdicts = {row["metric"]: row["drifted"] for row in result["metrics"]}
    assert result["drift"] and verdicts == {"accuracy": True, "f1": False}
