"""The metrics: which a task has, which way is better, which need predicted probabilities, and their values.

The one list that params.yaml's checks, the evaluate and crossval stages, the report's statistics and
verdict, and the drift checks read; scikit-learn computes the values (imported when one is computed,
not with this module). The report's intervals under resampling are in report/statistics.py.
"""

from __future__ import annotations

# The keys evaluate writes to reports/metrics.json for each data.task, in that order.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "max_error"),
}

# The report's calibration of a classifier: Brier score and expected calibration error.
CALIBRATION = ("brier", "ece")

# Metrics where a smaller value is the better model; every other metric is better when larger.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "rmse", "mae", "max_error"})

# The class metrics that need predicted probabilities; the others need predicted labels alone.
PROBABILITY_METRICS = ("roc_auc", "log_loss")

# A drift check judges the fall of a score or the relative rise of an error in the target's units;
# log loss is neither, so monitor.concept_metrics may not name it.
NOT_CONCEPT = frozenset({"log_loss"})

# The defaults, per data.task, of report.metric (the primary metric: `make run`, the checks and the report
# lead with it) and of monitor.concept_metrics. Balanced accuracy, the mean of the classes' recalls: a model
# that always answers the majority class scores 1 / (number of classes) however rare the others are.
DEFAULT_METRIC = {"classification": "balanced_accuracy", "regression": "rmse"}
DEFAULT_CONCEPT_METRICS = {"classification": ("accuracy", "balanced_accuracy"), "regression": ("rmse", "mae")}

# A predictions table (evaluate's, crossval's, the drift check's) holds each class's probability in a column
# named with this prefix and the class: `probability_columns`.
PROBABILITY_PREFIX = "proba_"


def probability_columns(classes) -> list[str]:
    """The column of each class's predicted probability, in the order of `classes`: proba_<class>."""
    return [f"{PROBABILITY_PREFIX}{label}" for label in classes]


def direction(metric: str) -> int:
    """+1 when a larger value of the metric is better, -1 when a smaller one is."""
    return -1 if metric in LOWER_IS_BETTER else 1


def concept_metrics(task: str) -> tuple[str, ...]:
    """The metrics of `task` that monitor.concept_metrics may name."""
    return tuple(name for name in TASK_METRICS[task] if name not in NOT_CONCEPT)


def positive_class(classes: list[str]) -> str:
    """The class binary metrics are about: the second in sorted order (as in scikit-learn)."""
    return classes[-1]


def compute_metrics(y_true, y_pred, proba, classes: list[str]) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1 (macro when multiclass), ROC AUC, log loss."""
    from sklearn import metrics

    if len(classes) == 2:
        roc_auc = metrics.roc_auc_score(y_true == positive_class(classes), proba[:, 1])
    else:
        roc_auc = metrics.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
    values = {"roc_auc": roc_auc, "log_loss": metrics.log_loss(y_true, proba, labels=classes)}
    return label_metrics(y_true, y_pred, classes) | {name: round(float(value), 6) for name, value in values.items()}


# The class metrics of predicted labels alone: those that move with a binary model's decision threshold.
LABEL_METRICS = tuple(name for name in TASK_METRICS["classification"] if name not in PROBABILITY_METRICS)


def label_metrics(y_true, y_pred, classes: list[str], names=LABEL_METRICS) -> dict[str, float]:
    """The class metrics of predicted labels alone (those of LABEL_METRICS in `names`): precision, recall and
    F1 of the positive class for two classes, their macro averages for more."""
    from sklearn import metrics

    binary = len(classes) == 2
    averaging = {"average": "binary", "pos_label": positive_class(classes)} if binary else {"average": "macro"}
    scorers = {
        "accuracy": lambda: metrics.accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: metrics.balanced_accuracy_score(y_true, y_pred),
        "precision": lambda: metrics.precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": lambda: metrics.recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": lambda: metrics.f1_score(y_true, y_pred, zero_division=0, **averaging),
    }
    return {name: round(float(scorers[name]()), 6) for name in LABEL_METRICS if name in names}


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """RMSE, MAE, R² and the largest absolute error (in the target's units, but R²)."""
    from sklearn import metrics

    values = {
        "rmse": metrics.root_mean_squared_error(y_true, y_pred),
        "mae": metrics.mean_absolute_error(y_true, y_pred),
        "r2": metrics.r2_score(y_true, y_pred),
        "max_error": metrics.max_error(y_true, y_pred),
    }
    return {name: round(float(value), 6) for name, value in values.items()}
