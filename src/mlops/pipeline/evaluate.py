"""Stage `evaluate`: score the model on the test split; write metrics, plots and figures.

reports/metrics.json is small and committed to git (`dvc metrics diff main` works in any
clone). The plot data under reports/plots/ feeds `dvc plots show`; the same charts are
also drawn as PNG under reports/figures/.

Classification: accuracy, balanced accuracy, precision, recall, F1, ROC AUC, log loss; a
confusion matrix, ROC and precision-recall curves. Regression: RMSE, MAE, R² and the
largest absolute error; predicted against actual values, and residuals against predictions.
"""

from __future__ import annotations

import json

from mlops import paths, tracking
from mlops.config import Params
from mlops.io import load_model, read_json, read_table, write_json, write_table
from mlops.metrics import compute_metrics, positive_class, probability_columns, regression_metrics
from mlops.model import use_cores
from mlops.schema import Schema


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
    """Permutation importance: the drop in the model's score (accuracy, or R² for regression) when a
    column is shuffled, on the test split or, when it has more than `max_rows` rows, on a seeded sample."""
    import pandas as pd
    from sklearn.inspection import permutation_importance

    if len(features) > max_rows:
        features = features.sample(n=max_rows, random_state=seed)
        y_true = y_true.loc[features.index]
    result = permutation_importance(model, features, y_true, n_repeats=5, random_state=seed, n_jobs=1)
    frame = pd.DataFrame({"feature": features.columns, "importance": result.importances_mean.round(6)})
    return frame.sort_values(["importance", "feature"], ascending=[False, True]).reset_index(drop=True)


def draw_importance(importance, scoring: str) -> None:
    from mlops import figures

    top = importance.head(20).iloc[::-1]
    fig, ax = figures.pyplot().subplots(figsize=(6, max(3, 0.3 * len(top))))
    ax.barh(top["feature"], top["importance"])
    ax.set(xlabel=f"drop in {scoring} when shuffled", title="Permutation feature importance")
    figures.save(fig, paths.FIGURES_DIR / "feature_importance.png")


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
    draw_importance(importance, "accuracy")


def regression_plots(y_true, y_pred):
    """(predicted against actual, residual against predicted): the data of the two regression plots."""
    import pandas as pd

    actual, predicted = y_true.to_numpy(dtype=float), pd.Series(y_pred).to_numpy(dtype=float)
    versus = pd.DataFrame({"actual": actual.round(6), "predicted": predicted.round(6)})
    residuals = pd.DataFrame({"predicted": predicted.round(6), "residual": (actual - predicted).round(6)})
    return versus, residuals


def draw_regression_figures(versus, residuals, importance) -> None:
    from mlops import figures

    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    low = min(versus["actual"].min(), versus["predicted"].min())
    high = max(versus["actual"].max(), versus["predicted"].max())
    ax.plot([low, high], [low, high], color="#d0d7de", linestyle="--", linewidth=1)
    ax.scatter(versus["actual"], versus["predicted"], s=10, alpha=0.6)
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test split)")
    figures.save(fig, paths.FIGURES_DIR / "predicted_vs_actual.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.axhline(0, color="#d0d7de", linestyle="--", linewidth=1)
    ax.scatter(residuals["predicted"], residuals["residual"], s=10, alpha=0.6)
    ax.set(xlabel="predicted", ylabel="actual - predicted", title="Residuals (test split)")
    figures.save(fig, paths.FIGURES_DIR / "residuals.png")
    draw_importance(importance, "R²")


def evaluate_regression(model, features, y_true, seed: int, importance_rows: int) -> dict[str, float]:
    """Regression's metrics, plots, figures and predictions; returns the metrics."""
    y_pred = model.predict(features)
    metrics = regression_metrics(y_true, y_pred)
    versus, residuals = regression_plots(y_true, y_pred)
    importance = feature_importance(model, features, y_true, seed, importance_rows)
    write_json(paths.METRICS, metrics)
    write_json(paths.PER_CLASS, {})  # a regression model has no classes
    write_table(versus, paths.PLOTS_DIR / "predicted_vs_actual.csv")
    write_table(residuals, paths.PLOTS_DIR / "residuals.csv")
    write_table(importance, paths.PLOTS_DIR / "feature_importance.csv")
    write_table(versus, paths.PREDICTIONS)
    draw_regression_figures(versus, residuals, importance)
    return metrics


def main(params: Params) -> None:
    schema = Schema.load(paths.SCHEMA)
    test_frame = read_table(paths.TEST)
    model = use_cores(load_model(paths.MODEL), params.n_jobs)
    features, y_true = schema.features_frame(test_frame), schema.target_series(test_frame)
    if schema.regression:
        metrics = evaluate_regression(model, features, y_true, params.seed, params.evaluate.importance_rows)
    else:
        metrics = evaluate_classification(model, features, y_true, params.seed, params.evaluate.importance_rows)
    training = read_json(paths.TRAINING_INFO)
    if training.get("run_id"):
        reports = [str(paths.METRICS), str(paths.PER_CLASS)]
        tracking.log_evaluation(training, metrics, reports, experiment=params.mlflow.experiment)
    print("evaluate: " + json.dumps(metrics))


def evaluate_classification(model, features, y_true, seed: int, importance_rows: int) -> dict[str, float]:
    """Classification's metrics, plots, figures and predictions; returns the metrics."""
    import pandas as pd

    classes = [str(label) for label in model.classes_]
    y_pred = pd.Series(model.predict(features), index=features.index).astype(str)
    proba = model.predict_proba(features)

    metrics = compute_metrics(y_true, y_pred, proba, classes)
    roc, pr = curves(y_true, proba, classes)
    confusion = pd.DataFrame({"actual": y_true, "predicted": y_pred})
    importance = feature_importance(model, features, y_true, seed, importance_rows)

    write_json(paths.METRICS, metrics)
    write_json(paths.PER_CLASS, per_class(y_true, y_pred, classes))
    write_table(confusion, paths.PLOTS_DIR / "confusion_matrix.csv")
    write_table(roc, paths.PLOTS_DIR / "roc.csv")
    write_table(pr, paths.PLOTS_DIR / "precision_recall.csv")
    write_table(importance, paths.PLOTS_DIR / "feature_importance.csv")
    predictions = pd.DataFrame(proba.round(6), columns=probability_columns(classes))
    write_table(predictions.assign(actual=y_true, predicted=y_pred), paths.PREDICTIONS)
    draw_figures(confusion, roc, pr, importance, classes)
    return metrics
