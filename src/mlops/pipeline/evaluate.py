"""Stage `evaluate`: score the model on the test split; write metrics, plots and figures.

reports/metrics.json is small and committed to git (`dvc metrics diff main` works in any
clone). The plot data under reports/plots/ feeds `dvc plots show`; the same charts are
also drawn as PNG under reports/figures/.
"""

from __future__ import annotations

import json

from mlops import paths, tracking
from mlops.config import Params
from mlops.io import load_model, read_json, read_table, write_json, write_table
from mlops.model import use_cores
from mlops.schema import Schema

# Metrics where a smaller value is the better model; every other metric is better when larger.
# The report, the verdict and drift checks read a metric's direction from here.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece"})


def direction(metric: str) -> int:
    """+1 when a larger value of the metric is better, -1 when a smaller one is."""
    return -1 if metric in LOWER_IS_BETTER else 1


def positive_class(classes: list[str]) -> str:
    """The class binary metrics are about: the second in sorted order (as in scikit-learn)."""
    return classes[-1]


def compute_metrics(y_true, y_pred, proba, classes: list[str]) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1 (macro when multiclass), ROC AUC, log loss."""
    from sklearn import metrics

    binary = len(classes) == 2
    averaging = {"average": "binary", "pos_label": positive_class(classes)} if binary else {"average": "macro"}
    if binary:
        roc_auc = metrics.roc_auc_score(y_true == positive_class(classes), proba[:, 1])
    else:
        roc_auc = metrics.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
    values = {
        "accuracy": metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
        "precision": metrics.precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": metrics.recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": metrics.f1_score(y_true, y_pred, zero_division=0, **averaging),
        "roc_auc": roc_auc,
        "log_loss": metrics.log_loss(y_true, proba, labels=classes),
    }
    return {name: round(float(value), 6) for name, value in values.items()}


def per_class(y_true, y_pred, classes: list[str]) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        label: {
            "precision": round(float(p), 6),
            "recall": round(float(r), 6),
            "f1": round(float(f), 6),
            "support": int(s),
        }
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    }


def curves(y_true, proba, classes: list[str]):
    """ROC and precision-recall curves: the positive class when binary, else micro-averaged one-vs-rest."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import precision_recall_curve, roc_curve
    from sklearn.preprocessing import label_binarize

    if len(classes) == 2:
        truth, score = (y_true == positive_class(classes)).to_numpy(), proba[:, 1]
    else:
        truth, score = label_binarize(y_true, classes=classes).ravel(), proba.ravel()
    fpr, tpr, _ = roc_curve(truth, score)
    precision, recall, _ = precision_recall_curve(truth, score)
    roc = pd.DataFrame({"fpr": np.round(fpr, 6), "tpr": np.round(tpr, 6)})
    pr = pd.DataFrame({"recall": np.round(recall, 6), "precision": np.round(precision, 6)})
    return roc, pr


def feature_importance(model, features, y_true, seed: int, max_rows: int):
    """Permutation importance: the drop in accuracy when a column is shuffled, on the test split
    or, when it has more than `max_rows` rows, on a seeded sample of that many."""
    import pandas as pd
    from sklearn.inspection import permutation_importance

    if len(features) > max_rows:
        features = features.sample(n=max_rows, random_state=seed)
        y_true = y_true.loc[features.index]
    result = permutation_importance(model, features, y_true, n_repeats=5, random_state=seed, n_jobs=1)
    frame = pd.DataFrame({"feature": features.columns, "importance": result.importances_mean.round(6)})
    return frame.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(drop=True)


def draw_figures(confusion, roc, pr, importance, classes: list[str]) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    from mlops import figures

    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    ConfusionMatrixDisplay.from_predictions(confusion["actual"], confusion["predicted"], labels=classes, ax=ax)
    ax.set_title("Confusion matrix (test split)")
    figures.save(fig, paths.FIGURES_DIR / "confusion_matrix.png")

    for name, frame in (("roc", roc), ("precision_recall", pr)):
        x, y = figures.CURVES[name][:2]
        figures.curve(name, [(None, frame[x], frame[y], None)], paths.FIGURES_DIR / f"{name}.png")

    top = importance.head(20).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, max(3, 0.3 * len(top))))
    ax.barh(top["feature"], top["importance"])
    ax.set(xlabel="drop in accuracy when shuffled", title="Permutation feature importance")
    figures.save(fig, paths.FIGURES_DIR / "feature_importance.png")


def main(params: Params) -> None:
    import pandas as pd

    schema = Schema.load(paths.SCHEMA)
    test_frame = read_table(paths.TEST)
    model = use_cores(load_model(paths.MODEL), params.n_jobs)
    features, y_true = schema.features_frame(test_frame), schema.target_series(test_frame)
    classes = [str(label) for label in model.classes_]
    y_pred = pd.Series(model.predict(features), index=features.index).astype(str)
    proba = model.predict_proba(features)

    metrics = compute_metrics(y_true, y_pred, proba, classes)
    roc, pr = curves(y_true, proba, classes)
    confusion = pd.DataFrame({"actual": y_true, "predicted": y_pred})
    importance = feature_importance(model, features, y_true, params.seed, params.evaluate.importance_rows)

    write_json(paths.METRICS, metrics)
    write_json(paths.PER_CLASS, per_class(y_true, y_pred, classes))
    write_table(confusion, paths.PLOTS_DIR / "confusion_matrix.csv")
    write_table(roc, paths.PLOTS_DIR / "roc.csv")
    write_table(pr, paths.PLOTS_DIR / "precision_recall.csv")
    write_table(importance, paths.PLOTS_DIR / "feature_importance.csv")
    predictions = pd.DataFrame(proba.round(6), columns=[f"proba_{label}" for label in classes])
    write_table(predictions.assign(actual=y_true, predicted=y_pred), paths.PREDICTIONS)
    draw_figures(confusion, roc, pr, importance, classes)

    training = read_json(paths.TRAINING_INFO)
    if training.get("run_id"):
        reports = [str(paths.METRICS), str(paths.PER_CLASS)]
        tracking.log_evaluation(training, metrics, reports, experiment=params.mlflow.experiment)
    print("evaluate: " + json.dumps(metrics))
