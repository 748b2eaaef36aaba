"""Judging: run every comparison of this run with the baseline (report/comparisons.py) and give the verdict.

The verdict rests on the strongest evidence both runs have, in this order: their
cross-validation scores on the same folds (paired), on different folds (unpaired), the
test split's rows (paired when both runs scored the same rows, else unpaired). The rule
is `report:` in params.yaml: *better* when the whole interval of the improvement lies
above `min_effect`, *worse* when it lies below `-max_drop`, else *no detectable change*.
"""

from __future__ import annotations

from typing import Any

from mlops import paths
from mlops.config import ReportParams
from mlops.dataset import row_keys
from mlops.errors import MlopsError
from mlops.report.comparisons import (
    as_predictions,
    calibration,
    compare_cv,
    compare_slices,
    compare_test,
    holdout_evidence,
    important_numeric,
)
from mlops.report.results import STATUS_WORDS, Comparison, Evidence, Verdict
from mlops.report.runs import Run

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


def how_to_get(base: Run) -> str:
    """What to do for the baseline's per-row files: they are DVC outputs, in a run's directory, never in git."""
    commit = base.commit or "main"
    where = "git holds its metrics, not them (DVC outputs)" if base.root is None else f"{base.root} lacks them"
    return (
        f"{where}; pass `--baseline-dir` a run of {base.label}: the artifact `pipeline-output` of its training "
        f"run, or a worktree where it ran (`git worktree add ../baseline {commit[:12]} && cd ../baseline && "
        "dvc repro`)"
    )


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
        test_missing = f"{base.label}'s per-row test predictions are not at hand: {how_to_get(base)}"
    else:
        test = compare_test(pr_test, base_test, classes, list(pr.metrics), settings)
        if not regression:
            calibrations[base.label] = calibration(as_predictions(base_test, classes))

    slices, slices_missing = None, ""
    pr_oof, base_oof = pr.table(paths.CV_PREDICTIONS), base.table(paths.CV_PREDICTIONS)
    if pr_oof is None or schema is None:
        slices_missing = f"this run has no out-of-fold predictions ({paths.CV_PREDICTIONS}): run the crossval stage"
    elif base_oof is None:
        slices_missing = f"{base.label} has no out-of-fold predictions ({paths.CV_PREDICTIONS}): {how_to_get(base)}"
    elif not (pr.cv and base.cv) or pr.cv.get("plan") is None or pr.cv.get("plan") != base.cv.get("plan"):
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
