"""The model: edit this file to change how features are processed and which estimator fits them.

Each estimator name has a classifier, a regressor or both; `data.task` in params.yaml picks.

`build_model` returns an unfitted scikit-learn Pipeline. Keep it convertible to ONNX
(the `export` stage checks): skl2onnx converts these transformers and estimators.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, NamedTuple

from mlops.errors import MlopsError
from mlops.schema import MISSING_CATEGORY, Schema
from mlops.threshold import pipeline_of


class Estimator(NamedTuple):
    # Each class as its import path ("package.module.Class"), imported only when a model is built, so that
    # checking train.estimator in params.yaml costs no scikit-learn import; a class object works too.
    classifier: str | type | None = None  # the class for data.task: classification
    regressor: str | type | None = None  # and for data.task: regression (None: this name does not do it)
    scale: bool = False  # standardise numeric features first
    parallel: bool = False  # fits and predicts on `n_jobs` cores (params.yaml); others ignore n_jobs or warn

    def does(self, task: str) -> bool:
        return (self.regressor if task == "regression" else self.classifier) is not None

    def make(self, task: str) -> type | None:
        """The class for `task`, imported (None: this name does not do it)."""
        return imported(self.regressor if task == "regression" else self.classifier)


def imported(kind: str | type | None) -> type | None:
    """The class an Estimator names: imported from its path, or as given."""
    if not isinstance(kind, str):
        return kind
    module, _, name = kind.rpartition(".")
    return getattr(importlib.import_module(module), name)


# The estimators `train.estimator` in params.yaml may name: to add one, add it here, with the
# import path of its classifier, its regressor or both. Linear models want standardised
# features; trees split on thresholds and need none, and scaling them would only add float32
# rounding in ONNX that can flip a split.
ESTIMATORS = {
    "random_forest": Estimator(
        "sklearn.ensemble.RandomForestClassifier", "sklearn.ensemble.RandomForestRegressor", parallel=True
    ),
    "gradient_boosting": Estimator(
        "sklearn.ensemble.GradientBoostingClassifier", "sklearn.ensemble.GradientBoostingRegressor"
    ),
    "logistic_regression": Estimator(classifier="sklearn.linear_model.LogisticRegression", scale=True),
    "ridge": Estimator(regressor="sklearn.linear_model.Ridge", scale=True),
}


def estimators_for(task: str) -> list[str]:
    """The names in ESTIMATORS that can do `task` (classification or regression)."""
    return [name for name, entry in ESTIMATORS.items() if entry.does(task)]


def estimator_problem(name: str, task: str | None = None) -> str | None:
    """Why `name` cannot be train.estimator (for data.task `task`, when given), naming the choices; None if it can."""
    choices = ", ".join(map(repr, estimators_for(task) if task else ESTIMATORS))
    if name not in ESTIMATORS:
        return f"unknown estimator {name!r}; choose one of: {choices}"
    if task is not None and name not in estimators_for(task):
        return f"estimator {name!r} does not do {task} (data.task); choose one of: {choices}"
    return None


def build_estimator(name: str, hyperparameters: dict[str, Any], seed: int, task: str = "classification"):
    problem = estimator_problem(name, task)
    if problem:
        raise MlopsError(problem)
    estimator_class = ESTIMATORS[name].make(task)
    allowed = estimator_class().get_params()
    for key in hyperparameters:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise MlopsError(
                f"unknown hyperparameter '{key}' for {name}{hint}; see train.hyperparameters in params.yaml"
            )
    seeded = {"random_state": seed} if "random_state" in allowed else {}  # not every estimator draws at random
    return estimator_class(**(seeded | hyperparameters))


def use_cores(model, n_jobs: int | None):
    """Let the model's estimator use `n_jobs` cores (None: one) when it can; results do not change."""
    estimator = pipeline_of(model).named_steps["estimator"]
    parallel = [
        imported(kind)
        for entry in ESTIMATORS.values()
        if entry.parallel
        for kind in (entry.classifier, entry.regressor)
        if kind
    ]
    if any(isinstance(estimator, kind) for kind in parallel):
        estimator.set_params(n_jobs=n_jobs)
    return model


def build_preprocessor(schema: Schema, scale: bool = True):
    """The ColumnTransformer for `schema`'s features: numbers imputed (and scaled), categories one-hot encoded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    numeric = Pipeline(numeric_steps)
    # Missing categories arrive as "" (not NaN), which skl2onnx can convert.
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(missing_values=MISSING_CATEGORY, strategy="constant", fill_value="__missing__")),
            ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    return ColumnTransformer(
        [("numeric", numeric, schema.numeric), ("categorical", categorical, schema.categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )


def build_model(schema: Schema, estimator: str, hyperparameters: dict[str, Any], seed: int):
    """The unfitted model for data of this schema: a scikit-learn Pipeline."""
    from sklearn.pipeline import Pipeline

    predictor = build_estimator(estimator, hyperparameters, seed, schema.task)
    preprocess = build_preprocessor(schema, scale=ESTIMATORS[estimator].scale)
    return Pipeline([("preprocess", preprocess), ("estimator", predictor)])
