"""Synthetic pipeline runs for the report's tests: every file a run leaves, from made-up data.

A run is a dataset (two numeric features and one categorical, `segment`, a binary label; drawn
by tests/factories.py) and a "model" that gets each row right with a chosen probability per
segment. From that come the test-split predictions, the metrics, the plots and the cross-validation files,
through the pipeline's own functions (prepare's split, crossval's folds, evaluate's metrics).

A regression run (`write_regression_run`) is the same with a continuous target, `value`, and a
"model" whose predictions are the actual values plus noise of a chosen size per segment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlops import paths
from mlops.config import ReportParams
from mlops.cv_files import write_cv_scores
from mlops.dataset import row_keys
from mlops.io import write_json, write_table
from mlops.metrics import compute_metrics, probability_columns, regression_metrics
from mlops.pipeline.crossval import fold_plan, plan_id
from mlops.pipeline.evaluate import curves, per_class, regression_plots
from mlops.pipeline.prepare import prepare
from tests import factories

CLASSES = ["no", "yes"]
SETTINGS = ReportParams(bootstrap=1000, metric="f1")  # the goldens read f1 (the default is balanced accuracy)


def dataset(rows: int = 600, seed: int = 0, segments: dict[str, float] | None = None, extra_columns: int = 0):
    """A binary dataset: `x1`, `x2` numeric, `segment` categorical (shares as given), target `label`
    (yes where x1 plus noise is over 0), and `extra_columns` unrelated numeric columns."""
    segments = segments or {"a": 0.45, "b": 0.45, "c": 0.10}
    columns = {
        "x1": factories.numeric(0, 1, decimals=4),
        "x2": factories.numeric(5, 2, decimals=4),
        "segment": factories.category(list(segments), list(segments.values())),
    }
    extras = {f"extra_{index:04d}": factories.numeric(decimals=3) for index in range(extra_columns)}

    def label(frame, rng):
        return np.where(frame["x1"] + rng.normal(0, 0.5, rows) > 0, "yes", "no")

    return factories.table(rows, seed, columns, label, unrelated=extras)


@dataclass
class Model:
    """Right with probability `accuracy`, or `by_segment[segment]` in those segments; `seed` its noise."""

    accuracy: float
    seed: int
    by_segment: dict[str, float] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame, salt: int = 0):
        rng = np.random.default_rng([self.seed, salt])
        chance = frame["segment"].map(self.by_segment).fillna(self.accuracy).to_numpy()
        right = rng.random(len(frame)) < chance
        actual = frame["label"].to_numpy()
        predicted = np.where(right, actual, np.where(actual == "yes", "no", "yes"))
        confidence = np.clip(0.5 + rng.beta(4, 2, len(frame)) / 2, 0.5, 0.995)
        p_yes = np.where(predicted == "yes", confidence, 1 - confidence).round(6)
        return predicted, np.column_stack([1 - p_yes, p_yes])


def write_run(
    root: Path,
    data: pd.DataFrame,
    model: Model,
    params: dict,
    commit: str,
    validation: tuple[bool, str] = (True, "**Data validation passed**: 12 of 12 expectations met."),
    settings: ReportParams = SETTINGS,
) -> Path:
    """Every file the report reads, as one pipeline run would leave them under `root`."""
    train, test, schema = prepare(data, "label", params["prepare"]["test_size"], params["seed"])
    write_table(train, root / paths.TRAIN)
    write_table(test, root / paths.TEST)
    schema.save(root / paths.SCHEMA)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    predicted, proba = model.predict(test)
    truth, guess = test["label"], pd.Series(predicted)
    write_json(root / paths.METRICS, compute_metrics(truth, guess, proba, CLASSES))
    write_json(root / paths.PER_CLASS, per_class(truth, guess, CLASSES))
    frame = pd.DataFrame(proba, columns=probability_columns(CLASSES))
    write_table(frame.assign(actual=truth, predicted=guess), root / paths.PREDICTIONS)
    write_table(pd.DataFrame({"actual": truth, "predicted": guess}), root / paths.PLOTS_DIR / "confusion_matrix.csv")
    roc, pr = curves(truth, proba, CLASSES)
    write_table(roc, root / paths.PLOTS_DIR / "roc.csv")
    write_table(pr, root / paths.PLOTS_DIR / "precision_recall.csv")
    write_crossval(root, pd.concat([train, test], ignore_index=True), model, settings)
    write_common(root, data, "label", len(train), len(test), commit, validation)
    return root


def write_common(root: Path, data, target: str, train_rows: int, test_rows: int, commit: str, validation) -> None:
    """The files of a run that do not depend on the task: importance, dvc.lock, facts, validation."""
    importance = [c for c in data.columns if c != target]
    write_table(
        pd.DataFrame({"feature": importance, "importance": np.linspace(0.3, 0.0, len(importance)).round(4)}),
        root / paths.PLOTS_DIR / "feature_importance.csv",
    )
    digest = json.dumps(sorted(row_keys(data).tolist()))
    md5 = __import__("hashlib").md5(digest.encode()).hexdigest()
    lock = {"schema": "2.0", "stages": {"ingest": {"outs": [{"path": str(paths.RAW), "md5": md5}]}}}
    (root / paths.DVC_LOCK).write_text(yaml.safe_dump(lock))
    write_json(
        root / paths.PR_REPORT_DIR / "facts.json",
        {"commit": commit, "branch": "main", "run_url": "https://github.com/example/repo/actions/runs/1",
         "model_bytes": 2_400_000, "onnx_bytes": 610_000, "train_seconds": 0.42,
         "train_rows": train_rows, "test_rows": test_rows, "dataset_rows": len(data), "model_version": "3",
         "onnx_latency_ms_p50": 0.021, "onnx_latency_ms_p95": 0.034},
    )  # fmt: skip
    success, summary = validation
    write_json(root / paths.VALIDATION_RESULT, {"success": success})
    (root / paths.VALIDATION_SUMMARY).write_text(summary + "\n")


def write_crossval(root: Path, frame: pd.DataFrame, model: Model, settings: ReportParams) -> None:
    """reports/cv/ as the crossval stage writes it, with the model's out-of-fold predictions."""
    keys = row_keys(frame)
    labels = frame["label"].to_numpy()
    used, plan = fold_plan(keys, labels, settings.cv_folds, settings.cv_repeats, settings.cv_seed, settings.cv_max_rows)
    metrics: dict[str, list[float]] = {}
    blocks = []
    for repeat, fold, _, test in plan:
        part = frame.iloc[test]
        predicted, proba = model.predict(part, salt=repeat * 100 + fold + 1)
        for name, value in compute_metrics(part["label"], pd.Series(predicted), proba, CLASSES).items():
            metrics.setdefault(name, []).append(value)
        block = pd.DataFrame(proba, columns=probability_columns(CLASSES))
        blocks.append(
            block.assign(key=keys[test], repeat=repeat, fold=fold, actual=part["label"].to_numpy(), predicted=predicted)
        )
    test_rows = len(used) // settings.cv_folds
    write_table(pd.concat(blocks, ignore_index=True), root / paths.CV_PREDICTIONS)
    write_cv_scores(
        {"plan": plan_id(keys[used], settings.cv_folds, settings.cv_repeats, settings.cv_seed, settings.cv_max_rows),
         "folds": settings.cv_folds, "repeats": settings.cv_repeats, "cv_seed": settings.cv_seed, "rows": len(used),
         "rows_available": len(frame), "train_rows": len(used) - test_rows, "test_rows": test_rows,
         "fits": len(plan), "seconds": 1.5, "metrics": metrics},
        root,
    )  # fmt: skip


def params(seed: int = 42, test_size: float = 0.2, **train) -> dict:
    return {
        "seed": seed,
        "data": {"source": "data/source/synthetic.csv", "target": "label"},
        "prepare": {"test_size": test_size},
        "train": {"estimator": "random_forest", "hyperparameters": train or {"n_estimators": 100}},
        "mlflow": {"experiment": "tests", "registered_model": "tests-model"},
        "report": {"metric": "f1", "max_drop": 0.01, "fail_on_regression": False},
    }


def regression_dataset(rows: int = 600, seed: int = 0):
    """`x1`, `x2` numeric, `segment` categorical, a continuous target `value`."""
    frame = dataset(rows, seed).drop(columns="label")
    rng = np.random.default_rng([seed, 1])  # its own noise: the features are dataset()'s, value for value
    frame["value"] = (100 + 10 * frame["x1"] + 2 * frame["x2"] + rng.normal(0, 1, rows)).round(4)
    return frame


@dataclass
class RegressionModel:
    """Predicts the actual value plus normal noise of standard deviation `error`, or `by_segment[segment]`."""

    error: float
    seed: int
    by_segment: dict[str, float] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame, salt: int = 0):
        rng = np.random.default_rng([self.seed, salt])
        spread = frame["segment"].map(self.by_segment).fillna(self.error).to_numpy()
        return (frame["value"].to_numpy() + rng.normal(0, 1, len(frame)) * spread).round(6)


def write_regression_run(
    root: Path, data: pd.DataFrame, model: RegressionModel, params: dict, commit: str, settings: ReportParams = SETTINGS
) -> Path:
    """Every file the report reads, as a regression run (data.task: regression) would leave them."""
    train, test, schema = prepare(data, "value", params["prepare"]["test_size"], params["seed"], task="regression")
    write_table(train, root / paths.TRAIN)
    write_table(test, root / paths.TEST)
    schema.save(root / paths.SCHEMA)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    truth = schema.target_series(test)
    predicted = model.predict(test)
    write_json(root / paths.METRICS, regression_metrics(truth, predicted))
    write_json(root / paths.PER_CLASS, {})
    versus, residuals = regression_plots(truth, predicted)
    write_table(versus, root / paths.PLOTS_DIR / "predicted_vs_actual.csv")
    write_table(residuals, root / paths.PLOTS_DIR / "residuals.csv")
    write_table(versus, root / paths.PREDICTIONS)

    frame = pd.concat([train, test], ignore_index=True)
    keys = row_keys(frame)
    values = frame["value"].to_numpy()
    s = settings
    used, plan = fold_plan(keys, values, s.cv_folds, s.cv_repeats, s.cv_seed, s.cv_max_rows, stratify=False)
    metrics: dict[str, list[float]] = {}
    blocks = []
    for repeat, fold, _, fold_rows in plan:
        part = frame.iloc[fold_rows]
        guess = model.predict(part, salt=repeat * 100 + fold + 1)
        for name, value in regression_metrics(part["value"], guess).items():
            metrics.setdefault(name, []).append(value)
        blocks.append(
            pd.DataFrame(
                {"key": keys[fold_rows], "repeat": repeat, "fold": fold, "actual": part["value"], "predicted": guess}
            )
        )
    test_rows = len(used) // s.cv_folds
    write_table(pd.concat(blocks, ignore_index=True), root / paths.CV_PREDICTIONS)
    write_cv_scores(
        {"plan": plan_id(keys[used], s.cv_folds, s.cv_repeats, s.cv_seed, s.cv_max_rows), "folds": s.cv_folds,
         "repeats": s.cv_repeats, "cv_seed": s.cv_seed, "rows": len(used), "rows_available": len(frame),
         "train_rows": len(used) - test_rows, "test_rows": test_rows, "fits": len(plan), "seconds": 1.5,
         "metrics": metrics},
        root,
    )  # fmt: skip
    write_common(root, data, "value", len(train), len(test), commit, (True, "**Data validation passed**."))
    return root


def regression_params(seed: int = 42, max_drop: float = 0.1, **train) -> dict:
    return {
        "seed": seed,
        "data": {"source": "data/source/synthetic.csv", "target": "value", "task": "regression"},
        "prepare": {"test_size": 0.2},
        "train": {"estimator": "random_forest", "hyperparameters": train or {"n_estimators": 100}},
        "mlflow": {"experiment": "tests", "registered_model": "tests-model"},
        "report": {"metric": "rmse", "max_drop": max_drop, "fail_on_regression": False},
    }
