"""What the default model must do, beyond a score: behavioural tests on the bundled dataset."""

import numpy as np
import pytest

from mlops.config import load_params
from mlops.pipeline.evaluate import per_class
from mlops.pipeline.ingest import load_source
from mlops.pipeline.prepare import prepare
from mlops.pipeline.train import fit
from tests.conftest import REPO_ROOT

MIN_RECALL_PER_CLASS = 0.9


@pytest.fixture(scope="module")
def trained():
    params = load_params(REPO_ROOT / "params.yaml")
    raw = load_source(params.data.source, params.data.target)
    train, test, schema = prepare(raw, params.data.target, params.prepare.test_size, params.seed)
    model = fit(train, schema, params.train.estimator, params.train.hyperparameters, params.seed)
    return model, schema, train, test


def test_every_class_is_found(trained):
    model, schema, _, test = trained
    predicted = model.predict(schema.features_frame(test))
    for label, scores in per_class(schema.target_series(test), predicted, schema.classes).items():
        assert scores["recall"] >= MIN_RECALL_PER_CLASS, f"recall of {label}: {scores['recall']}"


def test_column_order_does_not_matter(trained):
    model, schema, _, test = trained
    features = schema.features_frame(test)
    shuffled = features[list(np.random.default_rng(0).permutation(features.columns))]
    np.testing.assert_array_equal(model.predict_proba(features), model.predict_proba(shuffled))


def test_a_row_is_scored_the_same_alone_or_in_a_batch(trained):
    model, schema, _, test = trained
    features = schema.features_frame(test)
    batch = model.predict_proba(features)
    for index in (0, len(features) // 2, len(features) - 1):
        np.testing.assert_allclose(model.predict_proba(features.iloc[[index]])[0], batch[index])


def test_typical_cases_get_their_class(trained):
    model, schema, train, _ = trained
    for label in schema.classes:
        typical = schema.features_frame(train[train[schema.target] == label]).median().to_frame().T
        assert model.predict(typical)[0] == label


def test_larger_tumours_look_more_malignant(trained):
    model, schema, _, test = trained
    features = schema.features_frame(test)
    small, large = features.copy(), features.copy()
    for column in ("worst area", "worst radius", "worst perimeter"):
        small[column] = features[column].quantile(0.1)
        large[column] = features[column].quantile(0.9)
    malignant = schema.classes.index("malignant")
    assert model.predict_proba(large)[:, malignant].mean() > model.predict_proba(small)[:, malignant].mean() + 0.1
