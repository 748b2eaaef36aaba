"""What your model must do beyond a score: behavioural tests parametrised from the schema.

The classes come from the expectation suite, the threshold from `checks:` in params.yaml.
"""

import numpy as np
import pytest

from mlops.pipeline.evaluate import per_class


@pytest.fixture(scope="module")
def predicted(trained):
    return trained.model.predict(trained.schema.features_frame(trained.test)).astype(str)


def test_the_suite_and_the_data_agree_on_the_classes(trained, suite_schema):
    assert sorted(set(trained.schema.target_series(trained.train))) == suite_schema.classes


def test_every_class_is_predicted_with_the_minimum_recall(trained, predicted, params):
    """`checks.min_class_recall` in params.yaml: each class of the suite, on the held-out split."""
    schema = trained.schema
    scores = per_class(schema.target_series(trained.test), predicted, schema.classes)
    assert set(predicted) == set(schema.classes), "some class is never predicted"
    low = {label: s["recall"] for label, s in scores.items() if s["recall"] < params.checks.min_class_recall}
    assert not low, f"recall below checks.min_class_recall={params.checks.min_class_recall}: {low}"


def test_column_order_does_not_matter(trained):
    features = trained.schema.features_frame(trained.test)
    for seed in range(3):
        shuffled = features[list(np.random.default_rng(seed).permutation(features.columns))]
        np.testing.assert_array_equal(trained.model.predict_proba(features), trained.model.predict_proba(shuffled))


def test_a_row_is_scored_the_same_alone_or_in_a_batch(trained):
    features = trained.schema.features_frame(trained.test)
    batch = trained.model.predict_proba(features)
    for index in (0, len(features) // 2, len(features) - 1):
        np.testing.assert_allclose(trained.model.predict_proba(features.iloc[[index]])[0], batch[index])


def test_a_missing_value_in_any_feature_still_gets_a_prediction(trained):
    """The service accepts null for a nullable feature; the model must answer it with a known class."""
    schema = trained.schema
    row = schema.features_frame(trained.test.iloc[[0]])
    for feature in (f for f in schema.features if f.nullable):
        blank = row.copy()
        blank[feature.name] = np.nan if feature.kind == "numeric" else ""
        assert str(trained.model.predict(blank)[0]) in schema.classes, feature.name


def test_probabilities_are_a_distribution_over_the_classes(trained):
    proba = trained.model.predict_proba(trained.schema.features_frame(trained.test))
    assert proba.shape[1] == len(trained.schema.classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert [str(label) for label in trained.model.classes_] == trained.schema.classes
