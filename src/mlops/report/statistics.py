"""The report's statistics: how sure is a difference between two models' scores?

Pure functions of numpy arrays (scipy for the distributions); no files, no rendering.
Every difference is this run minus the baseline, in the metric's own units; whether a
larger value is better is the metric's direction (`mlops.metrics.direction`), applied by
the caller when it judges.

- `corrected_t`: paired cross-validation scores, with Nadeau and Bengio's correction for
  the overlap between folds' training sets (Machine Learning 52, 2003).
- `corrected_t_unpaired`: the same when the two runs' folds differ (their data differs).
- `bootstrap`: percentile intervals over rows, paired (both runs resampled together) or
  not; rows can carry several predictions (one per cross-validation repeat), and are
  resampled whole.
- `mcnemar_exact`, `brier`, `reliability`; `score` computes a metric under resampling weights,
  a class metric or, for a regression model, RMSE, MAE, R² and the largest absolute error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlops.metrics import TASK_METRICS

CHUNK = 20_000_000  # largest resample-by-row weight matrix held at once (elements)


@dataclass(frozen=True)
class Interval:
    """A difference and its interval at `level`; p_value is the two-sided test of no difference."""

    estimate: float
    low: float
    high: float
    level: float
    p_value: float


def corrected_t(differences, test_train_ratio: float, level: float) -> Interval:
    """Interval of the mean of paired per-fold differences (k-fold repeated r times: k*r values).

    The folds' training sets overlap, so the differences are correlated and the plain
    t-test is far too sure. Nadeau and Bengio's corrected variance replaces 1/J by
    1/J + n_test/n_train.
    """
    values = np.asarray(differences, dtype=float)
    count = len(values)
    if count < 2:
        raise ValueError("the corrected t-test needs at least two fold differences")
    mean = float(values.mean())
    error = float(np.sqrt((1 / count + test_train_ratio) * values.var(ddof=1)))
    return _t_interval(mean, error, count - 1, level)


def corrected_t_unpaired(new, old, test_train_ratio: float, level: float) -> Interval:
    """Interval of mean(new) - mean(old) for two independent sets of cross-validation scores.

    Each mean's variance is corrected as in `corrected_t`; degrees of freedom by Welch and
    Satterthwaite.
    """
    new, old = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    parts = [(1 / len(v) + test_train_ratio) * v.var(ddof=1) for v in (new, old)]
    error = float(np.sqrt(sum(parts)))
    denominator = sum(part**2 / (len(v) - 1) for part, v in zip(parts, (new, old), strict=True))
    freedom = sum(parts) ** 2 / denominator if denominator > 0 else len(new) + len(old) - 2
    return _t_interval(float(new.mean() - old.mean()), error, freedom, level)


def _t_interval(mean: float, error: float, freedom: float, level: float) -> Interval:
    from scipy import stats

    if error == 0:  # every fold gave the same difference
        return Interval(mean, mean, mean, level, 1.0 if mean == 0 else 0.0)
    half = float(stats.t.ppf((1 + level) / 2, freedom)) * error
    p_value = float(2 * stats.t.sf(abs(mean) / error, freedom))
    return Interval(mean, mean - half, mean + half, level, p_value)


# A statistic of one run: resampling weights (resamples x rows) -> one value per resample.
Statistic = Callable[[np.ndarray], np.ndarray]


def bootstrap(
    new: Statistic,
    old: Statistic,
    rows: int | tuple[int, int],
    resamples: int,
    seed: int,
    level: float,
    normal: bool = False,
) -> Interval:
    """Bootstrap interval of new - old: percentile, or with `normal` estimate ± z·(bootstrap standard error).

    `rows` an int: the runs scored the same rows, resampled together (paired). A pair
    (rows of new, rows of old): different rows, each run resampled on its own (unpaired).
    The normal form stays stable at the high levels that many simultaneous intervals need.
    """
    from scipy import stats

    rng = np.random.default_rng(seed)
    paired = isinstance(rows, int)
    sizes = (rows, rows) if paired else rows
    estimate = float(new(np.ones((1, sizes[0])))[0] - old(np.ones((1, sizes[1])))[0])
    per_chunk = max(1, CHUNK // max(sizes))
    draws = []
    for start in range(0, resamples, per_chunk):
        count = min(per_chunk, resamples - start)
        first = _weights(rng, count, sizes[0])
        second = first if paired else _weights(rng, count, sizes[1])
        draws.append(new(first) - old(second))
    values = np.concatenate(draws)
    values = values[np.isfinite(values)]
    share = min((values <= 0).mean(), (values >= 0).mean())
    p_value = float(min(1.0, 2 * share))
    if normal:
        half = float(stats.norm.ppf((1 + level) / 2) * values.std(ddof=1))
        return Interval(estimate, estimate - half, estimate + half, level, p_value)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high), level, p_value)


def _weights(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """How often each row is drawn in each of `count` resamples of `size` rows with replacement."""
    return rng.multinomial(size, np.full(size, 1 / size), size=count).astype(float)


def mcnemar_exact(new_correct, old_correct) -> tuple[int, int, float]:
    """(rows right only in new, rows right only in old, exact two-sided p-value) on the same rows."""
    from scipy import stats

    new_correct, old_correct = np.asarray(new_correct, bool), np.asarray(old_correct, bool)
    only_new = int((new_correct & ~old_correct).sum())
    only_old = int((old_correct & ~new_correct).sum())
    if only_new + only_old == 0:
        return 0, 0, 1.0
    return only_new, only_old, float(stats.binomtest(only_new, only_new + only_old, 0.5).pvalue)


# ---------------------------------------------------------------- scores of a set of predictions


@dataclass(frozen=True)
class Predictions:
    """Predictions of one run on n rows; a row may carry several (one per repeat), resampled together.

    actual, predicted: class indices (m,), or for a regression model the numbers (m,);
    proba: (m, classes), or (m, 0) for a regression model; row: which of the n rows (m,).
    """

    actual: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray
    row: np.ndarray
    rows: int

    @property
    def classes(self) -> int:
        return self.proba.shape[1]

    def subset(self, rows: np.ndarray) -> Predictions:
        """The predictions of the rows where `rows` (a boolean mask of the n rows) is true, renumbered."""
        keep = rows[self.row]
        renumber = np.cumsum(rows) - 1
        return Predictions(
            self.actual[keep], self.predicted[keep], self.proba[keep], renumber[self.row[keep]], int(rows.sum())
        )


def score(metric: str, predictions: Predictions, weights: np.ndarray) -> np.ndarray:
    """The metric of these predictions under each row of resampling weights (resamples x rows)."""
    observed = weights[:, predictions.row]
    if metric in REGRESSION_METRICS:
        return REGRESSION_METRICS[metric](predictions.actual, predictions.predicted, observed)
    if metric in ("log_loss", "brier"):
        losses = _log_loss(predictions) if metric == "log_loss" else _brier_rows(predictions)
        return observed @ losses / observed.sum(axis=1)
    if metric == "roc_auc":
        return _roc_auc(predictions, observed)
    if metric not in LABEL_METRICS:
        raise ValueError(f"no interval for metric '{metric}'; known: {', '.join(sorted(SCORED))}")
    size = predictions.classes
    cell = predictions.actual * size + predictions.predicted
    counts = np.zeros((len(weights), size * size))
    for index in np.unique(cell):
        counts[:, index] = observed[:, cell == index].sum(axis=1)
    return LABEL_METRICS[metric](counts.reshape(-1, size, size))


def _per_class(confusion: np.ndarray):
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = np.diagonal(confusion, axis1=1, axis2=2)
        actual, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
        recall = np.where(actual > 0, hits / actual, 0.0)
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (actual + predicted) > 0
    return precision, recall, f1, actual > 0, present


def _averaged(which: int) -> Callable[[np.ndarray], np.ndarray]:
    """Binary: the positive (last) class's value; multiclass: the macro average over classes present."""

    def metric(confusion: np.ndarray) -> np.ndarray:
        parts = _per_class(confusion)
        values, present = parts[which], parts[4]
        if confusion.shape[1] == 2:
            return values[:, 1]
        return (values * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)

    return metric


def _balanced_accuracy(confusion: np.ndarray) -> np.ndarray:
    _, recall, _, has_rows, _ = _per_class(confusion)
    return (recall * has_rows).sum(axis=1) / np.maximum(has_rows.sum(axis=1), 1)


def _accuracy(confusion: np.ndarray) -> np.ndarray:
    return np.trace(confusion, axis1=1, axis2=2) / confusion.sum(axis=(1, 2))


LABEL_METRICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "precision": _averaged(0),
    "recall": _averaged(1),
    "f1": _averaged(2),
}


def _rmse(actual: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.sqrt(weights @ (actual - predicted) ** 2 / weights.sum(axis=1))


def _mae(actual: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return weights @ np.abs(actual - predicted) / weights.sum(axis=1)


def _r2(actual: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """1 - residual sum of squares / total sum of squares, both under the weights (1.0 for a constant target)."""
    total = weights.sum(axis=1)
    mean = weights @ actual / total
    spread = (weights * (actual[None, :] - mean[:, None]) ** 2).sum(axis=1)
    residual = weights @ (actual - predicted) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 0, 1 - residual / spread, np.where(residual > 0, 0.0, 1.0))


def _max_error(actual: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The largest absolute error among the rows each resample drew."""
    return np.where(weights > 0, np.abs(actual - predicted)[None, :], 0.0).max(axis=1)


REGRESSION_METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
    "max_error": _max_error,
}
# Every metric evaluate writes, and the Brier score: `score` gives each an interval (tested).
SCORED = frozenset(itertools.chain(*TASK_METRICS.values(), ["brier"]))


def _log_loss(predictions: Predictions) -> np.ndarray:
    proba = predictions.proba / predictions.proba.sum(axis=1, keepdims=True)
    chosen = proba[np.arange(len(proba)), predictions.actual]
    return -np.log(np.clip(chosen, np.finfo(float).eps, 1))


def _brier_rows(predictions: Predictions) -> np.ndarray:
    """Binary: (p(positive) - y)^2, as scikit-learn; multiclass: the sum over classes."""
    truth = np.eye(predictions.classes)[predictions.actual]
    if predictions.classes == 2:
        return (predictions.proba[:, 1] - truth[:, 1]) ** 2
    return ((predictions.proba - truth) ** 2).sum(axis=1)


def _roc_auc(predictions: Predictions, weights: np.ndarray) -> np.ndarray:
    """Binary: the positive class's ROC AUC; multiclass: the macro average of one-vs-rest AUCs."""
    if predictions.classes == 2:
        return _weighted_auc(predictions.actual == 1, predictions.proba[:, 1], weights)
    areas = [
        _weighted_auc(predictions.actual == k, predictions.proba[:, k], weights) for k in range(predictions.classes)
    ]
    return np.mean(areas, axis=0)


def _weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The Mann-Whitney form of the ROC AUC under each row of weights; tied scores count one half."""
    order = np.argsort(scores, kind="stable")
    ranked = scores[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    sorted_weights, is_positive = weights[:, order], positive[order]
    positives = np.add.reduceat(sorted_weights * is_positive, starts, axis=1)
    negatives = np.add.reduceat(sorted_weights * ~is_positive, starts, axis=1)
    below = np.cumsum(negatives, axis=1) - negatives
    with np.errstate(divide="ignore", invalid="ignore"):
        return (positives * (below + negatives / 2)).sum(axis=1) / (positives.sum(axis=1) * negatives.sum(axis=1))


def brier(predictions: Predictions) -> float:
    return float(_brier_rows(predictions).mean())


def reliability(predictions: Predictions, bins: int = 10) -> tuple[list[dict[str, float]], float]:
    """(bins of predicted probability with their mean and observed frequency, expected calibration error).

    Binary: the positive class's probability against how often the row is positive.
    Multiclass: the top class's probability against how often it is right. The error is
    the rows-weighted mean gap between predicted and observed over equal-width bins.
    """
    if predictions.classes == 2:
        confidence, hit = predictions.proba[:, 1], predictions.actual == 1
    else:
        confidence = predictions.proba.max(axis=1)
        hit = predictions.proba.argmax(axis=1) == predictions.actual
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    table, error = [], 0.0
    for index in range(bins):
        inside = which == index
        if inside.any():
            predicted, observed = float(confidence[inside].mean()), float(hit[inside].mean())
            table.append({"low": index / bins, "predicted": predicted, "observed": observed, "rows": int(inside.sum())})
            error += inside.mean() * abs(predicted - observed)
    return table, float(error)
