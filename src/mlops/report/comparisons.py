"""The report's comparisons of this run with the baseline: cross-validation scores, the test split's
rows, slices of the data, and calibration. Each returns data (report/results.py); the verdict is
report/judge.py's.
"""

from __future__ import annotations

import itertools

import numpy as np

from mlops.config import ReportParams
from mlops.errors import MlopsError
from mlops.metrics import direction, probability_columns
from mlops.report import statistics
from mlops.report.results import Calibration, Evidence, Slice, Slices, TestComparison
from mlops.report.runs import Run
from mlops.report.statistics import Predictions


def compare_cv(metric: str, new: Run, old: Run, level: float) -> Evidence | None:
    """The corrected resampled t-test on both runs' per-fold scores, or None when either has none."""
    if not (new.cv and old.cv and metric in new.cv["metrics"] and metric in old.cv["metrics"]):
        return None
    a, b = np.asarray(new.cv["metrics"][metric]), np.asarray(old.cv["metrics"][metric])
    ratio = new.cv["test_rows"] / new.cv["train_rows"]
    shape = f"{new.cv['folds']}×{new.cv['repeats']}"
    if new.cv.get("plan") is not None and new.cv.get("plan") == old.cv.get("plan") and len(a) == len(b):
        interval = statistics.corrected_t(a - b, ratio, level)
        return Evidence(metric, interval, f"{shape} paired folds of {new.cv['rows']} rows", new.cv["rows"],
                        "corrected resampled t-test")  # fmt: skip
    settings = ("folds", "repeats", "cv_seed")
    why = (
        "the rows differ from main's (the data changed)"
        if all(new.cv.get(key) == old.cv.get(key) for key in settings)
        else "the cross-validation settings (report.cv_*) differ from main's"
    )
    interval = statistics.corrected_t_unpaired(a, b, ratio, level)
    basis = f"{shape} folds of {new.cv['rows']} rows, unpaired with main's {old.cv.get('rows', 'unknown')}"
    return Evidence(metric, interval, basis, new.cv["rows"], "corrected t-test, unpaired", f"unpaired: {why}")


# ---------------------------------------------------------------- the test split


def as_predictions(frame, classes: list[str], rows=None) -> Predictions:
    """Predictions from a frame with `actual`, `predicted` and `proba_<class>` columns; with no classes
    (a regression model), `actual` and `predicted` are numbers."""
    row = np.arange(len(frame)) if rows is None else np.asarray(rows)
    count = len(frame) if rows is None else int(row.max()) + 1
    if not classes:
        actual, predicted = (frame[name].to_numpy(dtype=float) for name in ("actual", "predicted"))
        return Predictions(actual, predicted, np.empty((len(frame), 0)), row, count)
    index = {label: position for position, label in enumerate(classes)}
    actual = frame["actual"].astype(str).map(index).to_numpy()
    predicted = frame["predicted"].astype(str).map(index).to_numpy()
    if np.isnan(actual.astype(float)).any() or np.isnan(predicted.astype(float)).any():
        raise MlopsError("a prediction names a class the schema does not have: rerun the pipeline")
    proba = frame[probability_columns(classes)].to_numpy(dtype=float)
    return Predictions(actual.astype(int), predicted.astype(int), proba, row, count)


def compare_test(new, old, classes: list[str], metrics: list[str], settings: ReportParams) -> TestComparison:
    """Bootstrap intervals of each metric's difference on the test split; McNemar's test when paired.

    `new`, `old`: test predictions with each row's `key` (runs.holdout_predictions).
    """
    paired = len(new) == len(old) and np.array_equal(np.sort(new["key"]), np.sort(old["key"]))
    if paired:
        old = old.set_index("key").loc[new["key"]].reset_index()
    a, b = as_predictions(new, classes), as_predictions(old, classes)
    result = TestComparison(paired, (len(new), len(old)))
    if not paired:
        result.note = (
            f"the runs scored different rows ({len(new)} here, {len(old)} in main's run; the split's seed or "
            "the data changed): each run is resampled on its own, and the cross-validation above is the better guide"
        )
    rows: int | tuple[int, int] = len(new) if paired else (len(new), len(old))
    for metric in metrics:
        if metric not in statistics.SCORED:
            continue
        result.intervals[metric] = statistics.bootstrap(
            lambda w, metric=metric: statistics.score(metric, a, w),
            lambda w, metric=metric: statistics.score(metric, b, w),
            rows, settings.bootstrap, settings.cv_seed, settings.level,
        )  # fmt: skip
    if paired and classes:
        result.mcnemar = statistics.mcnemar_exact(a.actual == a.predicted, b.actual == b.predicted)
    return result


def holdout_evidence(metric: str, test: TestComparison) -> Evidence | None:
    if metric not in test.intervals:
        return None
    kind = "paired" if test.paired else "unpaired"
    rows = test.rows[0]
    basis = f"{rows} {kind} test rows" if test.paired else f"{rows} test rows, unpaired with main's {test.rows[1]}"
    note = "" if test.paired else "unpaired: the runs scored different test rows"
    return Evidence(metric, test.intervals[metric], basis, rows, f"{kind} bootstrap", note)


# ---------------------------------------------------------------- slices


def slice_masks(frame, numeric: list[str], categorical: list[str], settings: ReportParams) -> dict[str, np.ndarray]:
    """Boolean masks of the rows in each slice with at least `slice_min_rows` rows.

    Every value of each categorical feature; quantile bins of the given numeric features.
    """
    masks: dict[str, np.ndarray] = {}
    for name in categorical:
        values = frame[name].astype(str)
        for value in sorted(values.unique()):
            masks[f"{name} = {value or '(missing)'}"] = (values == value).to_numpy()
    for name in numeric:
        column = frame[name].to_numpy(dtype=float)
        known = column[~np.isnan(column)]
        if len(known) == 0:
            continue
        edges = np.unique(np.quantile(known, np.linspace(0, 1, settings.slice_bins + 1)))
        for index, (low, high) in enumerate(itertools.pairwise(edges)):
            last = index == len(edges) - 2
            inside = (column >= low) & ((column <= high) if last else (column < high))
            masks[f"{name} in [{low:.4g}, {high:.4g}{']' if last else ')'}"] = inside
    return {name: mask for name, mask in masks.items() if mask.sum() >= settings.slice_min_rows}


def compare_slices(new_cv, old_cv, frame, numeric, categorical, classes, settings: ReportParams) -> Slices:
    """Paired bootstrap of the metric in each slice of the out-of-fold predictions of both runs.

    `new_cv`, `old_cv`: out-of-fold predictions (key, repeat, actual, predicted, proba_*);
    `frame`: the features of the rows, with `key`. A row's predictions from every repeat
    are resampled together. The intervals hold simultaneously over all slices checked
    (Bonferroni), so the many slices do not produce a false alarm one time in twenty.
    """
    metric = settings.metric
    rows = frame.drop_duplicates("key").set_index("key")
    keys = new_cv["key"].unique()
    rows = rows.loc[keys]
    position = {key: index for index, key in enumerate(keys)}
    old_cv = old_cv.set_index(["key", "repeat"]).loc[list(zip(new_cv["key"], new_cv["repeat"], strict=True))]
    old_cv = old_cv.reset_index()
    index = new_cv["key"].map(position).to_numpy()
    a, b = as_predictions(new_cv, classes, index), as_predictions(old_cv, classes, index)
    masks = slice_masks(rows.reset_index(), numeric, categorical, settings)
    result = Slices(checked=list(masks))
    if not masks:
        result.unavailable = f"no slice has {settings.slice_min_rows} rows or more (report.slice_min_rows)"
        return result
    level = 1 - (1 - settings.level) / len(masks)
    result.level = level
    sign = direction(metric)
    for offset, (name, mask) in enumerate(masks.items()):
        sa, sb = a.subset(mask), b.subset(mask)
        interval = statistics.bootstrap(
            lambda w, sa=sa: statistics.score(metric, sa, w), lambda w, sb=sb: statistics.score(metric, sb, w),
            sa.rows, settings.bootstrap, settings.cv_seed + offset, level, normal=True,
        )  # fmt: skip
        best_case = sign * interval.high if sign > 0 else sign * interval.low  # the improvement at its largest
        if best_case < -settings.max_drop:
            new_value = float(statistics.score(metric, sa, np.ones((1, sa.rows)))[0])
            result.worse.append(Slice(name, sa.rows, new_value, new_value - interval.estimate, interval))
    result.worse.sort(key=lambda item: sign * item.interval.estimate)
    return result


def important_numeric(run: Run, numeric: list[str], count: int) -> list[str]:
    """The `count` numeric features ranked highest by permutation importance (in the run's plots)."""
    ranked = [row["feature"] for row in run.plots.get("feature_importance", [])]
    chosen = [name for name in ranked if name in numeric][:count]
    return chosen or numeric[:count]


# ---------------------------------------------------------------- calibration


def calibration(predictions: Predictions) -> Calibration:
    bins, error = statistics.reliability(predictions)
    return Calibration(statistics.brier(predictions), error, bins, predictions.rows)
