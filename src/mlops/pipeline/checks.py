"""Stage `checks`: what a model must do before it ships, judged on the cross-validation folds.

Reads the out-of-fold predictions of the `crossval` stage and `checks:` in params.yaml. By default
the primary metric (report.metric) must beat a trivial baseline scored on the very same folds (the
majority class of each fold's training rows with their class shares as probabilities, or their
mean for regression) by `checks.baseline_margin`, and every class must be predicted at least once
right (a recall above 0). Absolute floors (`checks.min_class_recall`, `checks.min_r2`) apply when set.

Writes reports/checks.json (each check, passed or not, and what to change; the primary metric
against the baseline; the decision threshold) whatever the outcome, then exits non-zero with one
line per failed check (`mlops checks --show` prints it again, and exits the same way). `dvc repro`
stops there, before `export`: the model the service and the image run (models/model.onnx,
models/metadata.json) stays the last one that passed, and train.yml goes red, so publish.yml
never ships a model that failed.

The same `judge` holds the project tests (tests/project/) to the same checks, on the held-out split.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from mlops import paths
from mlops.config import ChecksParams, Params
from mlops.errors import MlopsError
from mlops.io import read_json, read_table, write_json
from mlops.metrics import compute_metrics, direction, positive_class, probability_columns, regression_metrics
from mlops.schema import Schema

WEIGHTING = "set train.class_weight: balanced"


@dataclass(frozen=True)
class Fold:
    """One split to judge: the training rows' target, and the held-out rows' truth and predictions."""

    train_target: object  # the training rows' target values (the baseline learns from these alone)
    actual: object
    predicted: object
    proba: object = None  # a classifier's probabilities, columns in the order of the classes


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str  # what was measured
    fix: str = ""  # what to change when it failed

    def line(self) -> str:
        mark = "passed" if self.passed else "FAILED"
        return f"{mark} {self.name}: {self.detail}" + ("" if self.passed else f"; {self.fix}")


def baseline_fold(fold: Fold, classes: list[str] | None) -> tuple[object, object]:
    """The trivial model's (predicted, proba) on the fold's held-out rows, learnt from its training rows."""
    import numpy as np
    import pandas as pd

    rows = len(fold.actual)
    if classes is None:
        return np.full(rows, float(np.mean(np.asarray(fold.train_target, dtype=float)))), None
    shares = pd.Series(np.asarray(fold.train_target).astype(str)).value_counts(normalize=True)
    prior = np.array([shares.get(label, 0.0) for label in classes])
    majority = classes[int(np.argmax(prior))]  # on a tie, the first in the classes' order
    return np.full(rows, majority, dtype=object), np.tile(prior, (rows, 1))


def score(fold: Fold, predicted, proba, classes: list[str] | None) -> dict[str, float]:
    import pandas as pd

    if classes is None:
        return regression_metrics(fold.actual, predicted)
    actual = pd.Series(fold.actual).astype(str).reset_index(drop=True)
    return compute_metrics(actual, pd.Series(predicted).astype(str), proba, classes)


def mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 6)


def judge(folds: list[Fold], classes: list[str] | None, checks: ChecksParams, metric: str) -> dict:
    """The checks on these folds (`classes` None for regression): {"passed", "metric", "model", "baseline",
    "baseline_model", "checks": [Check as a dict, ...]}."""
    import numpy as np
    import pandas as pd

    model_scores, baseline_scores = [], []
    for fold in folds:
        model_scores.append(score(fold, fold.predicted, fold.proba, classes))
        baseline_scores.append(score(fold, *baseline_fold(fold, classes), classes))
    model = {name: mean([s[name] for s in model_scores]) for name in model_scores[0]}
    baseline = {name: mean([s[name] for s in baseline_scores]) for name in baseline_scores[0]}
    trivial = "the mean of the training rows" if classes is None else "the majority class, with the class shares"
    results: list[Check] = []

    if checks.beat_baseline:
        results.append(beats_baseline(metric, model[metric], baseline[metric], checks.baseline_margin, len(folds)))
    if classes is not None:
        actual = pd.concat([pd.Series(fold.actual).astype(str) for fold in folds], ignore_index=True)
        predicted = pd.concat([pd.Series(fold.predicted).astype(str) for fold in folds], ignore_index=True)
        recall = {label: float(np.mean(predicted[actual == label] == label)) for label in classes}
        results += recall_checks(recall, checks)
    elif checks.min_r2 is not None:
        r2 = model["r2"]
        results.append(
            Check(
                "R² floor",
                r2 >= checks.min_r2,
                f"R² {r2:.4f}, checks.min_r2 {checks.min_r2:g}",
                "add features or rows, try another train.estimator, or lower checks.min_r2 in params.yaml",
            )
        )
    return {
        "passed": all(check.passed for check in results),
        "metric": metric,
        "model": model,
        "baseline": baseline,
        "baseline_model": trivial,
        "checks": [asdict(check) for check in results],
    }


def beats_baseline(metric: str, model: float, baseline: float, margin: float, folds: int) -> Check:
    """The primary metric beats the baseline's by `margin`: points of a score, a fraction of an error."""
    if direction(metric) > 0:
        needed, passed = baseline + margin, model >= baseline + margin
        how = f"{margin:g} above"
    else:
        needed, passed = baseline * (1 - margin), model <= baseline * (1 - margin)
        how = f"{margin:.0%} below"
    detail = (
        f"{metric} {model:.4f} against the trivial baseline's {baseline:.4f} on the same {folds} folds "
        f"(needed {needed:.4f}: {how} it, checks.baseline_margin)"
    )
    fix = (
        f"the model is no better than a constant guess: {WEIGHTING} when a class is rare, add features that "
        "carry signal or rows, try another train.estimator; or lower checks.baseline_margin in params.yaml"
    )
    return Check("beats the baseline", passed, detail, fix)


def recall_checks(recall: dict[str, float], checks: ChecksParams) -> list[Check]:
    shown = ", ".join(f"{label} {value:.3f}" for label, value in recall.items())
    results = []
    if checks.every_class_predicted:
        never = [label for label, value in recall.items() if value == 0]
        results.append(
            Check(
                "every class predicted",
                not never,
                f"recall of each class {shown}" + (f"; never predicted right: {', '.join(never)}" if never else ""),
                f"{WEIGHTING}, add rows of {', '.join(never)}, or set checks.every_class_predicted: false",
            )
        )
    if checks.min_class_recall is not None:
        low = [label for label, value in recall.items() if value < checks.min_class_recall]
        results.append(
            Check(
                "class recall floor",
                not low,
                f"recall of each class {shown}, checks.min_class_recall {checks.min_class_recall:g}"
                + (f"; below it: {', '.join(low)}" if low else ""),
                f"{WEIGHTING}, add rows of {', '.join(low)}, or lower checks.min_class_recall in params.yaml",
            )
        )
    return results


def crossval_folds(predictions, classes: list[str] | None) -> list[Fold]:
    """The folds of the crossval stage's out-of-fold predictions: a fold's training rows are the other
    folds' rows of the same repeat."""
    folds = []
    for (repeat, fold), held in predictions.groupby(["repeat", "fold"], sort=True):
        same_repeat = predictions[predictions["repeat"] == repeat]
        train_target = same_repeat.loc[same_repeat["fold"] != fold, "actual"].to_numpy()
        proba = None if classes is None else held[probability_columns(classes)].to_numpy()
        folds.append(Fold(train_target, held["actual"].to_numpy(), held["predicted"].to_numpy(), proba))
    return folds


def decision(classes: list[str] | None, chosen: dict | None = None) -> dict:
    """How the model turns probabilities into a class: the threshold a binary model applies (`chosen`: the
    train stage's record of a train.threshold other than 0.5)."""
    if classes is None:
        return {}
    if chosen:
        positive, threshold = chosen["positive_class"], chosen["threshold"]
        rule = f"{positive} when P({positive}) >= {threshold:g} ({chosen['chosen']})"
        return {"positive_class": positive, "threshold": threshold, "rule": rule}
    if len(classes) == 2:
        positive = positive_class(classes)
        return {"positive_class": positive, "threshold": 0.5, "rule": f"{positive} when P({positive}) > 0.5"}
    return {"rule": "the most probable class"}


def summary(result: dict) -> list[str]:
    """The lines `make run` leads with: the primary metric against the baseline, the decision, the checks."""
    metric = result["metric"]
    test = f", {result['test']:.4f} on the test split" if result.get("test") is not None else ""
    lines = [
        f"{metric} (primary metric): {result['model'][metric]:.4f} cross-validated{test}; "
        f"trivial baseline ({result['baseline_model']}) {result['baseline'][metric]:.4f}"
    ]
    if result.get("decision"):
        lines.append(f"decision: {result['decision']['rule']}")
    failed = [check for check in result["checks"] if not check["passed"]]
    if failed:
        lines.append(f"{len(failed)} of {len(result['checks'])} checks FAILED ({paths.CHECKS})")
    else:
        lines.append(f"all {len(result['checks'])} checks passed ({paths.CHECKS}): {checks_named(result)}")
    return lines


def checks_named(result: dict) -> str:
    return ", ".join(check["name"] for check in result["checks"]) or "none set in params.yaml (checks:)"


def announce(result: dict) -> None:
    """Print the summary; when a check failed, one line per failed check and what to change, then stop."""
    print("\n".join(summary(result)))
    failed = [Check(**check) for check in result["checks"] if not check["passed"]]
    for check in failed:
        print(f"mlops checks: {check.line()}", file=sys.stderr)
    if failed:
        raise MlopsError(
            f"the model failed {len(failed)} of {len(result['checks'])} checks (above; {paths.CHECKS}); "
            f"the pipeline stops before export, so {paths.ONNX_MODEL} stays the last model that passed"
        )


def main(params: Params, show: bool = False) -> None:
    """Judge the crossval stage's folds and write reports/checks.json; with `show`, only read it back."""
    if show:
        if not paths.CHECKS.is_file():
            raise MlopsError(f"{paths.CHECKS} not found: run the pipeline first (make run)")
        announce(read_json(paths.CHECKS))
        return
    schema = Schema.load(paths.SCHEMA)
    classes = None if schema.regression else schema.classes
    folds = crossval_folds(read_table(paths.CV_PREDICTIONS), classes)
    metric = params.report.metric
    result = judge(folds, classes, params.checks, metric)
    result["test"] = read_json(paths.METRICS).get(metric)
    chosen = read_json(paths.TRAINING_INFO).get("decision") if paths.TRAINING_INFO.is_file() else None
    result["decision"] = decision(classes, chosen)
    write_json(paths.CHECKS, result)
    announce(result)
