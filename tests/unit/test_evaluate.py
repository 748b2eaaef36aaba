import numpy as np
import pandas as pd
import pytest

from mlops.pipeline.evaluate import compute_metrics, curves, per_class

METRICS = {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}


def test_perfect_binary_predictions():
    y = pd.Series(["no", "yes", "yes", "no"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]])
    metrics = compute_metrics(y, y, proba, ["no", "yes"])
    assert set(metrics) == METRICS
    assert all(metrics[name] == 1.0 for name in METRICS - {"log_loss"})
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
