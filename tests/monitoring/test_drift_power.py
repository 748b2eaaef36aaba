"""The default thresholds against a synthetic dataset: few false alarms, strong detection.

"Resample" here is a bootstrap sample of the test split (its size, with replacement),
compared with the training split, as `mlops drift` compares a batch with its reference.
Bootstrapping adds noise of its own, so this is harder than a fresh sample would be.
"""

import numpy as np
import pytest

from mlops.config import MonitorParams
from mlops.monitoring import drift

RESAMPLES = 20


@pytest.fixture(scope="module")
def setup(dataset):
    train, test, schema = dataset
    thresholds = drift.Thresholds.from_params(MonitorParams())
    kinds = {f.name: f.kind for f in schema.features}
    return train, test, schema, thresholds, kinds


def resamples(test, seed):
    rng = np.random.default_rng(seed)
    for _ in range(RESAMPLES):
        yield test.sample(len(test), replace=True, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def alarms(train, batches, kinds, thresholds):
    verdicts = (
        drift.summarise(drift.compare_columns(train, batch, kinds, thresholds, with_histograms=False), thresholds)
        for batch in batches
    )
    return sum(verdict["data_drift"] for verdict in verdicts)


def test_unshifted_resamples_of_the_test_split_raise_at_most_one_alarm(setup):
    train, test, _, thresholds, kinds = setup
    assert alarms(train, resamples(test, seed=11), kinds, thresholds) <= 1


def important_features(train, schema, top: int):
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1)
    forest.fit(schema.features_frame(train), schema.target_series(train))
    ranked = sorted(zip(forest.feature_importances_, schema.columns, strict=True), reverse=True)
    return [name for _, name in ranked[:top]]


def test_a_one_standard_deviation_shift_of_an_important_feature_is_caught(setup):
    train, test, schema, thresholds, kinds = setup
    for index, name in enumerate(important_features(train, schema, top=5)):
        step = train[name].std()
        shifted = (batch.assign(**{name: batch[name] + step}) for batch in resamples(test, seed=100 + index))
        assert alarms(train, shifted, kinds, thresholds) >= RESAMPLES - 1, name
