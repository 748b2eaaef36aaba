"""The metrics by name: which a task has, which way is better, which need predicted probabilities.

The one list that params.yaml's checks, the evaluate stage, the report's statistics and verdict, and
the drift checks read. Names only (no scikit-learn here): evaluate computes the metrics
(pipeline/evaluate.py), the report their intervals under resampling (report/statistics.py).
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

# The defaults, per data.task, of report.metric and of monitor.concept_metrics.
DEFAULT_METRIC = {"classification": "f1", "regression": "rmse"}
DEFAULT_CONCEPT_METRICS = {"classification": ("accuracy", "balanced_accuracy"), "regression": ("rmse", "mae")}


def direction(metric: str) -> int:
    """+1 when a larger value of the metric is better, -1 when a smaller one is."""
    return -1 if metric in LOWER_IS_BETTER else 1


def concept_metrics(task: str) -> tuple[str, ...]:
    """The metrics of `task` that monitor.concept_metrics may name."""
    return tuple(name for name in TASK_METRICS[task] if name not in NOT_CONCEPT)
