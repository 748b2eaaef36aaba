import numpy as np
import pandas as pd
import pytest

from mlops.metrics import TASK_METRICS, compute_metrics
from mlops.pipeline.evaluate import curves, feature_importance, per_class
from mlops.pipeline.prepare import prepare
from mlops.pipeline.train import fit


def test_perfect_binary_predictions():
    y = pd.Series(["no", "yes", "yes", "no"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]])
    metrics = compute_metrics(y, y, proba, ["no", "yes"])
    assert tuple(metrics) == TASK_METRICS["classification"]  # the names, in order, of the one list
    assert all(metrics[name] == 1.0 for name in set(metrics) - {"log_loss"})
    assert 0 < metrics["log_loss"] < 0.3


def test_binary_metrics_are_about_the_positive_class():
    y_true = pd.Series(["no", "no", "no", "yes"])
    y_pred = pd.Series(["no", "no", "yes", "yes"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    metrics = compute_metrics(y_true, y_pred, proba, ["no", "yes"])
    assert metrics["precision"] == 0.5  # one of two "yes" predictions is right
    assert metrics["recall"] == 1.0
    assert metrics["accuracy"] == 0.75


def test_multiclass_metrics_are_macro_averaged():
    classes = ["a", "b", "c"]
    y_true = pd.Series(["a", "a", "b", "c"])
    y_pred = pd.Series(["a", "b", "b", "c"])
    proba = np.array([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    metrics = compute_metrics(y_true, y_pred, proba, classes)
    assert metrics["recall"] == pytest.approx((0.5 + 1 + 1) / 3, abs=1e-6)
    assert metrics["precision"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-6)
    table = per_class(y_true, y_pred, classes)
    assert table["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(0.666667), "support": 2}


def test_curves_span_zero_to_one():
    y = pd.Series(["a", "b", "c", "a", "b", "c"])
    proba = np.eye(3)[[0, 1, 2, 0, 2, 2]] * 0.8 + 0.2 / 3
    roc, pr = curves(y, proba, ["a", "b", "c"])
    assert roc["fpr"].iloc[0] == 0 and roc["tpr"].iloc[-1] == 1
    assert list(pr.columns) == ["recall", "precision"]


def test_permutation_importance_runs_on_a_seeded_sample_of_at_most_max_rows(mixed_frame, monkeypatch):
    import sklearn.inspection

    scored_rows = []
    real = sklearn.inspection.permutation_importance

    def recording(model, features, y_true, **kwargs):
        scored_rows.append(list(features.index))
        return real(model, features, y_true, **kwargs)

    monkeypatch.setattr(sklearn.inspection, "permutation_importance", recording)
    train, test, schema = prepare(mixed_frame, "churned", test_size=0.5, seed=0)
    model = fit(train, schema, "random_forest", {"n_estimators": 10}, seed=0)
    features, y_true = schema.features_frame(test), schema.target_series(test)

    first = feature_importance(model, features, y_true, seed=3, max_rows=40)
    second = feature_importance(model, features, y_true, seed=3, max_rows=40)
    feature_importance(model, features, y_true, seed=4, max_rows=40)
    feature_importance(model, features, y_true, seed=3, max_rows=len(test))

    assert [len(rows) for rows in scored_rows] == [40, 40, 40, len(test)]
    assert scored_rows[0] == scored_rows[1] != scored_rows[2]  # seeded: the same seed, the same sample
    assert set(scored_rows[0]) <= set(features.index)
    pd.testing.assert_frame_equal(first, second)
    assert sorted(first["feature"]) == sorted(features.columns)
