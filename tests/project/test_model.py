"""What your model must do beyond a score: behavioural tests parametrised from the schema.

The classes come from the expectation suite, the checks from `checks:` in params.yaml, judged by
the `checks` stage's own code (mlops.pipeline.checks). A regression model (data.task: regression)
must answer every row, with missing values too, with a finite number.
"""

import numpy as np
import pytest

from mlops import paths
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def predicted(trained):
    predictions = trained.model.predict(trained.schema.features_frame(trained.test))
    return predictions.astype(float) if trained.schema.regression else predictions.astype(str)


def scores(trained, features):
    """What the model says about each row: class probabilities, or the predicted number."""
    if trained.schema.regression:
        return trained.model.predict(features)
    return trained.model.predict_proba(features)


def test_the_suite_and_the_data_agree_on_the_target(trained, suite_schema):
    target = trained.schema.target_series(trained.train)
    if trained.schema.regression:
        assert suite_schema.regression and np.isfinite(target).all()
    else:
        assert sorted(set(target)) == suite_schema.classes


def test_the_model_meets_the_checks_on_the_held_out_split(trained, params):
    """The `checks` stage's checks (`checks:` in params.yaml: beat the trivial baseline in the primary
    metric, predict every class, the floors when set), judged by the same code on the held-out split."""
    from mlops.pipeline.checks import Check, Fold, judge

    schema = trained.schema
    features = schema.features_frame(trained.test)
    classes = None if schema.regression else schema.classes
    proba = None if classes is None else trained.model.predict_proba(features)
    fold = Fold(
        schema.target_series(trained.train).to_numpy(),
        schema.target_series(trained.test).to_numpy(),
        trained.model.predict(features),
        proba,
    )
    result = judge([fold], classes, params.checks, params.report.metric)
    failed = [Check(**check).line() for check in result["checks"] if not check["passed"]]
    assert not failed, "; ".join(failed)


def test_column_order_does_not_matter(trained):
    features = trained.schema.features_frame(trained.test)
    for seed in range(3):
        shuffled = features[list(np.random.default_rng(seed).permutation(features.columns))]
        np.testing.assert_array_equal(scores(trained, features), scores(trained, shuffled))


def test_a_row_is_scored_the_same_alone_or_in_a_batch(trained):
    features = trained.schema.features_frame(trained.test)
    batch = scores(trained, features)
    for index in (0, len(features) // 2, len(features) - 1):
        np.testing.assert_allclose(scores(trained, features.iloc[[index]])[0], batch[index])


def pytest_generate_tests(metafunc):
    """One case per feature the suite lets be missing; none (shown as skipped, with why) when it expects every value."""
    if "nullable_feature" not in metafunc.fixturenames:
        return
    from mlops.config import load_params
    from mlops.schema import load_suite_schema

    params = load_params(REPO_ROOT / paths.PARAMS)
    suite = load_suite_schema(REPO_ROOT / paths.SUITE, params.data.target, params.data.task)
    not_features = {*params.columns.ids, *params.columns.drop, *params.columns.dates}  # columns.* in params.yaml
    names = [feature.name for feature in suite.features if feature.nullable and feature.name not in not_features]
    no_case = pytest.param(
        None, marks=pytest.mark.skip(reason=f"{paths.SUITE} expects no missing value in any feature")
    )
    metafunc.parametrize("nullable_feature", names or [no_case])


def test_a_missing_value_in_a_nullable_feature_still_gets_a_prediction(trained, nullable_feature):
    """The service accepts null for a nullable feature; the model must answer it with a known class or a number."""
    schema = trained.schema
    (feature,) = [f for f in schema.features if f.name == nullable_feature]
    assert feature.nullable
    blank = schema.features_frame(trained.test.iloc[[0]])
    blank[feature.name] = np.nan if feature.kind == "numeric" else ""
    answer = trained.model.predict(blank)[0]
    if schema.regression:
        assert np.isfinite(float(answer))
    else:
        assert str(answer) in schema.classes


def test_the_answers_are_probabilities_over_the_classes_or_finite_numbers(trained, predicted):
    if trained.schema.regression:
        assert np.isfinite(predicted).all()
        return
    proba = trained.model.predict_proba(trained.schema.features_frame(trained.test))
    assert proba.shape[1] == len(trained.schema.classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert [str(label) for label in trained.model.classes_] == trained.schema.classes
