"""Judging: compare this run with the baseline and give the verdict.

The verdict rests on the strongest evidence both runs have, in this order: their
cross-validation scores on the same folds (paired), on different folds (unpaired), the
test split's rows (paired when both runs scored the same rows, else unpaired). The rule
is `report:` in params.yaml: *better* when the whole interval of the improvement lies
above `min_effect`, *worse* when it lies below `-max_drop`, else *no detectable change*.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops import paths
from mlops.config import ReportParams
from mlops.dataset import row_keys
from mlops.errors import MlopsError
from mlops.metrics import direction
from mlops.report import statistics
from mlops.report.runs import Run
from mlops.report.statistics import Interval, Predictions

STATUS_WORDS = {
    "better": "better",
    "worse": "worse",
    "unchanged": "no detectable change",
    "none": "no baseline yet",
    "unknown": "no interval",
    "invalid": "data validation failed",
}


@dataclass(frozen=True)
class Evidence:
    """An interval of this run's metric minus the baseline's, and what it rests on."""

    metric: str
    interval: Interval
    basis: str  # e.g. "5×2 paired folds of 569 rows"
    rows: int
    method: str  # e.g. "corrected resampled t-test"
    note: str = ""  # why a comparison is unpaired

    def improvement(self) -> tuple[float, float]:
        """The interval turned so that positive is better, whatever the metric's direction."""
        sign = direction(self.metric)
        return tuple(sorted((sign * self.interval.low, sign * self.interval.high)))  # type: ignore[return-value]


@dataclass(frozen=True)
class Verdict:
    status: str  # better | worse | unchanged | none (no baseline) | unknown (no interval) | invalid (bad data)
    sentence: str
    evidence: Evidence | None = None

    @property
    def icon(self) -> str:
        return {"better": "✅", "worse": "❌", "invalid": "❌", "unchanged": "⚪"}.get(self.status, "ℹ️")

    @property
    def words(self) -> str:
        return STATUS_WORDS[self.status]


@dataclass
class TestComparison:
    paired: bool
    rows: tuple[int, int]  # (this run's test rows, the baseline's)
    intervals: dict[str, Interval] = field(default_factory=dict)
    mcnemar: tuple[int, int, float] | None = None
    note: str = ""


@dataclass(frozen=True)
class Slice:
    name: str  # e.g. "region = north" or "age in [31.2, 40.5)"
    rows: int
    new: float
    old: float
    interval: Interval


@dataclass
class Slices:
    checked: list[str] = field(default_factory=list)
    worse: list[Slice] = field(default_factory=list)
    level: float = 0.95  # the level of each slice's interval (simultaneous over the slices checked)
    unavailable: str = ""  # why no slice was judged


@dataclass(frozen=True)
class Calibration:
    brier: float
    ece: float
    bins: list[dict[str, float]]
    rows: int


# ---------------------------------------------------------------- cross-validation


def compare_cv(metric: str, new: Run, old: Run, level: float) -> Evidence | None:
    """The corrected resampled t-test on both runs' per-fold scores, or None when either has none."""
    if not (new.cv and old.cv and metric in new.cv["metrics"] and metric in old.cv["metrics"]):
        return None
    a, b = np.asarray(new.cv["metrics"][metric]), np.asarray(old.cv["metrics"][metric])
    ratio = new.cv["test_rows"] / new.cv["train_rows"]
    shape = f"{new.cv['folds']}×{new.cv['repeats']}"
    if new.cv["plan"] == old.cv["plan"] and len(a) == len(b):
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
    basis = f"{shape} folds of {new.cv['rows']} rows, unpaired with main's {old.cv['rows']}"
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
    proba = frame[[f"proba_{label}" for label in classes]].to_numpy(dtype=float)
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


# ---------------------------------------------------------------- the verdict


def signed(value: float, digits: int = 3) -> str:
    """+0.013 / −0.010 (a real minus sign, as in print)."""
    text = f"{value + 0.0 if round(value, digits) else 0.0:+.{digits}f}"  # no "−0.000"
    return text.replace("-", "−")


def judge(pr: Run, base: Run | None, settings: ReportParams, evidence: Evidence | None) -> Verdict:
    metric = settings.metric
    if metric not in pr.metrics:
        raise MlopsError(
            f"params.yaml report.metric '{metric}' is not in {paths.METRICS}; choose one of: {', '.join(pr.metrics)}"
        )
    if pr.validation and pr.validation["success"] is False:
        rows = pr.facts.get("dataset_rows")
        return Verdict(
            "invalid",
            f"data validation failed on {rows if rows is not None else 'the'} rows of {paths.RAW}: the pipeline "
            "stops before training, so the scores below are the last good run's; fix the data or review the suite",
        )
    if base is None or metric not in base.metrics:
        return Verdict("none", f"no baseline yet: {metric} is {pr.metrics[metric]:.4f}, nothing to compare with")
    if evidence is None:
        delta = pr.metrics[metric] - base.metrics[metric]
        return Verdict(
            "unknown",
            f"{metric} {signed(delta)} on the test split, with no interval: main's run has neither "
            f"cross-validation scores ({paths.CV_SCORES}) nor per-row test predictions to compare with",
        )
    low, high = evidence.improvement()
    if low > settings.min_effect:
        status = "better"
    elif high < -settings.max_drop:
        status = "worse"
    else:
        status = "unchanged"
    interval = evidence.interval
    sentence = (
        f"{metric} {signed(interval.estimate)}, {interval.level:.0%} interval {signed(interval.low)} to "
        f"{signed(interval.high)} over {evidence.basis}: {STATUS_WORDS[status]}"
    )
    return Verdict(status, sentence, evidence)


def summary(verdict: Verdict) -> dict[str, Any]:
    """verdict.json: what the workflow and other tools read."""
    data: dict[str, Any] = {"status": verdict.status, "text": verdict.sentence}
    if verdict.evidence:
        interval = verdict.evidence.interval
        data.update(
            metric=verdict.evidence.metric,
            difference=interval.estimate,
            low=interval.low,
            high=interval.high,
            level=interval.level,
            basis=verdict.evidence.basis,
            rows=verdict.evidence.rows,
        )
    return data


# ---------------------------------------------------------------- everything, for the renderers


@dataclass
class HeldOut:
    """Rows both models scored that neither trained on (report.retrained)."""

    name: str  # e.g. "fresh labelled rows"
    rows: int  # rows scored
    offered: int  # rows of the set before leaving out those this PR's model trained on
    test: TestComparison
    scores: dict[str, tuple[float, float]]  # metric -> (main's model, this PR's) on these rows


@dataclass
class Retrained:
    """This PR retrains on a new data version from `mlops retrain-data`."""

    source: str  # the new data version
    added: int  # production rows it added
    sets: list[HeldOut] = field(default_factory=list)
    missing: str = ""  # why no rows could be scored


@dataclass
class Comparison:
    """All the report says about this run against the baseline."""

    pr: Run
    base: Run | None
    settings: ReportParams
    verdict: Verdict
    cv_by_metric: dict[str, Evidence] = field(default_factory=dict)
    test: TestComparison | None = None
    test_missing: str = ""
    slices: Slices | None = None
    slices_missing: str = ""
    calibration: dict[str, Calibration] = field(default_factory=dict)
    regression: bool = False  # data.task: regression (no classes, probabilities or calibration)
    retrained: Retrained | None = None  # set by report.retrained when this PR retrains on a new data version


def compare(pr: Run, base: Run | None, settings: ReportParams) -> Comparison:
    """Every comparison the report shows; the verdict from the strongest evidence at hand."""
    import pandas as pd

    from mlops.report.runs import holdout_predictions
    from mlops.schema import Schema

    schema_path = pr.root / paths.SCHEMA if pr.root else None
    schema = Schema.load(schema_path) if schema_path and schema_path.is_file() else None
    regression = schema.regression if schema else not pr.per_class and bool(pr.plots.get("predicted_vs_actual"))
    classes = [] if regression else schema.classes if schema else list(pr.per_class)
    pr_test = holdout_predictions(pr)
    calibrations = {}
    if pr_test is not None and not regression:
        calibrations["this PR"] = calibration(as_predictions(pr_test, classes))
    if base is None:
        verdict = judge(pr, None, settings, None)
        return Comparison(pr, None, settings, verdict, calibration=calibrations, regression=regression)

    cv_by_metric = {}
    for name in (pr.cv or {}).get("metrics", {}):
        evidence = compare_cv(name, pr, base, settings.level)
        if evidence:
            cv_by_metric[name] = evidence

    base_test = holdout_predictions(base)
    test, test_missing = None, ""
    if pr_test is None:
        test_missing = f"this run has no per-row test predictions ({paths.PREDICTIONS})"
    elif base_test is None:
        test_missing = (
            f"{base.label}'s per-row test predictions are not at hand (they travel in the artifact of main's "
            "training run, not in git)"
        )
    else:
        test = compare_test(pr_test, base_test, classes, list(pr.metrics), settings)
        if not regression:
            calibrations[base.label] = calibration(as_predictions(base_test, classes))

    slices, slices_missing = None, ""
    pr_oof, base_oof = pr.table(paths.CV_PREDICTIONS), base.table(paths.CV_PREDICTIONS)
    if pr_oof is None or base_oof is None or schema is None:
        slices_missing = f"both runs' out-of-fold predictions ({paths.CV_PREDICTIONS}) are needed"
    elif not (pr.cv and base.cv) or pr.cv["plan"] != base.cv["plan"]:
        slices_missing = "the runs cross-validated different rows or folds, so their rows cannot be paired"
    else:
        prepared = pd.concat([pr.table(paths.TRAIN), pr.table(paths.TEST)], ignore_index=True)
        prepared = prepared.assign(key=row_keys(prepared))
        numeric = important_numeric(pr, schema.numeric, settings.slice_numeric_features)
        slices = compare_slices(pr_oof, base_oof, prepared, numeric, schema.categorical, classes, settings)

    evidence = cv_by_metric.get(settings.metric) or (holdout_evidence(settings.metric, test) if test else None)
    return Comparison(
        pr, base, settings, judge(pr, base, settings, evidence), cv_by_metric, test, test_missing,
        slices, slices_missing, calibrations, regression,
    )  # fmt: skip
