"""Stage `crossval`: repeated k-fold cross-validation of the model on all prepared rows.

Writes reports/cv/scores.json (every metric on every fold: the only metrics file of the stage;
small, committed), reports/cv/plan.json (which rows, how many folds: bookkeeping, committed, the
same on every run of the same data and settings), reports/cv/timing.json (how long it took: DVC's
cache, not git, since it differs run to run) and reports/cv/predictions.parquet (each row's
out-of-fold prediction in every repeat). The pull-request report pairs these fold by fold and
row by row with main's files.

The folds depend only on the rows and `report.cv_*` in params.yaml, never on `seed` or on
the train/test split: rows are put in a canonical order by a hash of their content before
they are dealt into folds. So a pull request that changes the model or its seed meets
exactly main's folds, and the comparison is paired. Data larger than `report.cv_max_rows`
is cross-validated on a stratified subsample of that many rows, drawn the same way.
"""

from __future__ import annotations

import hashlib
import json
import time

from mlops import paths
from mlops.config import Params
from mlops.cv_files import write_cv_scores
from mlops.dataset import row_keys
from mlops.errors import MlopsError
from mlops.io import read_table, write_table
from mlops.metrics import compute_metrics, probability_columns, regression_metrics
from mlops.schema import Schema


def fold_plan(keys, labels, folds: int, repeats: int, seed: int, max_rows: int, stratify: bool = True):
    """(positions of the rows used, [(repeat, fold, train positions, test positions), ...]).

    Positions index the rows as given; the plan is the same whatever order they come in.
    Folds are stratified by class unless `stratify` is false (a regression target).
    """
    import numpy as np
    from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, train_test_split

    order = np.argsort(keys, kind="stable")
    if len(order) > max_rows:
        strata = labels[order] if stratify else None
        order, _ = train_test_split(order, train_size=max_rows, random_state=seed, stratify=strata)
        order = np.sort(order)
        order = order[np.argsort(keys[order], kind="stable")]
    smallest = int(np.unique(labels[order], return_counts=True)[1].min()) if stratify else len(order)
    if smallest < folds:
        which = "the smallest class has" if stratify else "there are"
        raise MlopsError(
            f"report.cv_folds is {folds}, but {which} {smallest} rows: "
            f"lower report.cv_folds in params.yaml to at most {max(smallest, 2)} or add data"
        )
    kind = RepeatedStratifiedKFold if stratify else RepeatedKFold
    splitter = kind(n_splits=folds, n_repeats=repeats, random_state=seed)
    plan = []
    for index, (train, test) in enumerate(splitter.split(order, labels[order])):
        plan.append((index // folds, index % folds, order[train], order[test]))
    return order, plan


def plan_id(keys, folds: int, repeats: int, seed: int, max_rows: int) -> str:
    """Equal for two runs exactly when they cross-validate the same rows in the same folds."""
    import numpy as np

    digest = hashlib.sha256(np.sort(keys).astype("<u8").tobytes())
    digest.update(json.dumps([folds, repeats, seed, max_rows]).encode())
    return digest.hexdigest()[:16]


def cross_validate(frame, schema: Schema, params: Params):
    """(scores: the contents of scores.json, plan.json and timing.json in one dict, predictions: a frame of
    out-of-fold predictions)."""
    import numpy as np
    import pandas as pd

    from mlops.pipeline.train import fit

    settings, settings_train = params.report, params.train
    keys = row_keys(frame)
    labels = schema.target_series(frame).to_numpy()
    used, plan = fold_plan(
        keys,
        labels,
        settings.cv_folds,
        settings.cv_repeats,
        settings.cv_seed,
        settings.cv_max_rows,
        stratify=not schema.regression,
    )
    metrics: dict[str, list[float]] = {}
    predictions = []
    started = time.perf_counter()
    for repeat, fold, train, test in plan:
        model = fit(
            frame.iloc[train], schema, settings_train.estimator, settings_train.hyperparameters, params.seed,
            params.n_jobs, settings_train.class_weight, settings_train.threshold, settings_train.threshold_metric,
        )  # fmt: skip
        features = schema.features_frame(frame.iloc[test])
        if schema.regression:
            predicted = np.asarray(model.predict(features), dtype=float)
            for name, value in regression_metrics(labels[test], predicted).items():
                metrics.setdefault(name, []).append(value)
            block = pd.DataFrame({"predicted": predicted.round(6)})
        else:
            block = classification_fold(model, features, labels[test], schema, metrics)
        block.insert(0, "actual", labels[test])
        block.insert(0, "fold", fold)
        block.insert(0, "repeat", repeat)
        block.insert(0, "key", keys[test])
        predictions.append(block)
    seconds = time.perf_counter() - started
    test_rows = len(used) // settings.cv_folds
    scores = {
        "plan": plan_id(keys[used], settings.cv_folds, settings.cv_repeats, settings.cv_seed, settings.cv_max_rows),
        "folds": settings.cv_folds,
        "repeats": settings.cv_repeats,
        "cv_seed": settings.cv_seed,
        "rows": len(used),
        "rows_available": len(frame),
        "train_rows": len(used) - test_rows,
        "test_rows": test_rows,
        "fits": len(plan),
        # each fit's rows: the one list in plan.json, so `dvc plots show` draws it as a chart of fold sizes
        "split": [
            {"fit": index, "repeat": repeat, "fold": fold, "train_rows": len(train), "test_rows": len(test)}
            for index, (repeat, fold, train, test) in enumerate(plan)
        ],
        "seconds": round(seconds, 2),
        "metrics": metrics,
    }
    return scores, pd.concat(predictions, ignore_index=True)


def classification_fold(model, features, actual, schema: Schema, metrics: dict[str, list[float]]):
    """One fold's class predictions and probabilities; its metrics appended to `metrics`."""
    import numpy as np
    import pandas as pd

    proba = model.predict_proba(features)
    classes = [str(label) for label in model.classes_]
    if classes != schema.classes:
        raise MlopsError("a fold lacks a class in training; lower report.cv_folds in params.yaml")
    predicted = np.asarray(model.predict(features)).astype(str)
    for name, value in compute_metrics(pd.Series(actual), pd.Series(predicted), proba, classes).items():
        metrics.setdefault(name, []).append(value)
    block = pd.DataFrame(proba.round(6), columns=probability_columns(classes))
    block.insert(0, "predicted", predicted)
    return block


def main(params: Params) -> None:
    import pandas as pd

    schema = Schema.load(paths.SCHEMA)
    frame = pd.concat([read_table(paths.TRAIN), read_table(paths.TEST)], ignore_index=True)
    scores, predictions = cross_validate(frame, schema, params)
    write_table(predictions, paths.CV_PREDICTIONS)
    write_cv_scores(scores)
    metric = params.report.metric
    values = scores["metrics"].get(metric) or [float("nan")]
    print(
        f"crossval: {scores['folds']}x{scores['repeats']} folds on {scores['rows']} rows, {scores['fits']} fits "
        f"in {scores['seconds']:.1f}s; {metric} {sum(values) / len(values):.4f} on average -> {paths.CV_SCORES}"
    )
