"""Stage `train`: fit the model from model.py on the training split, save it, track it in MLflow."""

from __future__ import annotations

import time

from mlops import paths, tracking
from mlops import threshold as threshold_rule
from mlops.config import Params, flatten
from mlops.errors import MlopsError
from mlops.io import file_sha256, read_table, save_model, write_json
from mlops.model import build_model, use_cores
from mlops.schema import Schema


def fit(
    train_frame,
    schema: Schema,
    estimator: str,
    hyperparameters: dict,
    seed: int,
    n_jobs: int | None = None,
    class_weight: str = "none",
    threshold: float | str = threshold_rule.DEFAULT,
    metric: str = "balanced_accuracy",
):
    """Return the fitted model for this training frame, fitted on `n_jobs` cores and saved for one.

    class_weight "balanced" (train.class_weight; classification only) weighs each row by the inverse of its
    class's share, through the estimator's sample weights, which every estimator in model.py takes.
    threshold (train.threshold; two classes only): the positive class's decision threshold, or "cv" for the
    one that maximises `metric` on out-of-fold predictions of these rows (mlops/threshold.py).
    """
    features, target = schema.features_frame(train_frame), schema.target_series(train_frame)

    def fit_rows(rows=None):
        rows_features, rows_target = (features, target) if rows is None else (features.iloc[rows], target.iloc[rows])
        return fit_pipeline(rows_features, rows_target, schema, estimator, hyperparameters, seed, n_jobs, class_weight)

    model = fit_rows()
    if schema.regression or threshold == threshold_rule.DEFAULT:
        return model
    classes = [str(label) for label in model.classes_]
    if len(classes) != 2:
        raise MlopsError(
            f"train.threshold applies to two classes and {schema.target} has {len(classes)}: "
            f"set it to {threshold_rule.DEFAULT} in params.yaml (the most probable class)"
        )
    if threshold == threshold_rule.CV:
        probability = threshold_rule.out_of_fold(fit_rows, features, target, seed)
        threshold = threshold_rule.choose(target, probability, classes, metric)
    return threshold_rule.with_threshold(model, threshold, features, target)


def fit_pipeline(features, target, schema: Schema, estimator, hyperparameters, seed, n_jobs, class_weight):
    """The model.py pipeline fitted on these rows (predicting the more probable class)."""
    model = use_cores(build_model(schema, estimator, hyperparameters, seed), n_jobs)
    weights = {}
    if class_weight == "balanced" and not schema.regression:
        from sklearn.utils.class_weight import compute_sample_weight

        weights = {"estimator__sample_weight": compute_sample_weight("balanced", target)}
    try:
        model.fit(features, target, **weights)
    except ValueError as exc:
        raise MlopsError(f"could not fit {estimator}: {str(exc).splitlines()[0]}") from exc
    return use_cores(model, None)  # whoever loads the model chooses its cores


def main(params: Params) -> None:
    tracking.check_reachable()  # before minutes of fitting, not after
    schema = Schema.load(paths.SCHEMA)
    train_frame = read_table(paths.TRAIN)
    started = time.perf_counter()
    train = params.train
    model = fit(
        train_frame,
        schema,
        train.estimator,
        train.hyperparameters,
        params.seed,
        params.n_jobs,
        train.class_weight,
        train.threshold,
        train.threshold_metric,
    )
    train_seconds = round(time.perf_counter() - started, 3)

    dataset_sha256 = file_sha256(paths.RAW)
    commit = tracking.git_commit()
    tracked = tracking.log_training(
        model,
        experiment=params.mlflow.experiment,
        registered_model=params.mlflow.registered_model,
        params=flatten(params.model_dump(include={"seed", "prepare", "train"})),
        tags={"git_commit": commit, "dataset_sha256": dataset_sha256, "data_source": params.data.source},
        input_example=schema.features_frame(train_frame.head(5)),
    )
    save_model(model, paths.MODEL)
    write_json(
        paths.TRAINING_INFO,
        {
            **tracked,
            "estimator": params.train.estimator,
            "dataset_sha256": dataset_sha256,
            "train_rows": len(train_frame),
            "train_seconds": train_seconds,
            "git_commit": commit,
            "decision": threshold_rule.described(model, train.threshold, train.threshold_metric),
        },
    )
    print(
        f"train: {params.train.estimator} fitted on {len(train_frame)} rows in {train_seconds:.2f}s -> {paths.MODEL}; "
        f"MLflow run {tracked['run_id']}, {tracked['registered_model']} version {tracked['model_version']}"
    )
