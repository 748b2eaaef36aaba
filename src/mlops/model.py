"""The model: edit this file to change how features are processed and which estimator fits them.

`build_model` returns an unfitted scikit-learn Pipeline. Keep it convertible to ONNX
(the `export` stage checks): skl2onnx converts these transformers and estimators.
"""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops.errors import MlopsError
from mlops.schema import MISSING_CATEGORY, Schema


class Estimator(NamedTuple):
    make: type  # a scikit-learn classifier
    scale: bool = False  # standardise numeric features first
    parallel: bool = False  # fits and predicts on `n_jobs` cores (params.yaml); others ignore n_jobs or warn


# The estimators `train.estimator` in params.yaml may name: to add one, add it here (import
# it above). Linear models want standardised features; trees split on thresholds and need
# none, and scaling them would only add float32 rounding in ONNX that can flip a split.
ESTIMATORS = {
    "random_forest": Estimator(RandomForestClassifier, parallel=True),
    "logistic_regression": Estimator(LogisticRegression, scale=True),
    "gradient_boosting": Estimator(GradientBoostingClassifier),
}


def build_estimator(name: str, hyperparameters: dict[str, Any], seed: int):
    if name not in ESTIMATORS:
        raise MlopsError(f"unknown estimator '{name}'; choose one of: {', '.join(ESTIMATORS)}")
    estimator_class = ESTIMATORS[name].make
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


def use_cores(model: Pipeline, n_jobs: int | None) -> Pipeline:
    """Let the model's estimator use `n_jobs` cores (None: one) when it can; results do not change."""
    estimator = model.named_steps["estimator"]
    if any(isinstance(estimator, entry.make) for entry in ESTIMATORS.values() if entry.parallel):
        estimator.set_params(n_jobs=n_jobs)
    return model


def build_preprocessor(schema: Schema, scale: bool = True) -> ColumnTransformer:
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


def build_model(schema: Schema, estimator: str, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    """The unfitted model for data of this schema."""
    classifier = build_estimator(estimator, hyperparameters, seed)
    preprocess = build_preprocessor(schema, scale=ESTIMATORS[estimator].scale)
    return Pipeline([("preprocess", preprocess), ("estimator", classifier)])
