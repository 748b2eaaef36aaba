"""The model: edit this file to change how features are processed and which estimator fits them.

`build_model` returns an unfitted scikit-learn Pipeline. Keep it convertible to ONNX
(the `export` stage checks): skl2onnx converts these transformers and estimators.
"""

from __future__ import annotations

import difflib
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops.errors import MlopsError
from mlops.schema import MISSING_CATEGORY, Schema

ESTIMATORS = {
    "random_forest": RandomForestClassifier,
    "logistic_regression": LogisticRegression,
    "gradient_boosting": GradientBoostingClassifier,
}


def build_estimator(name: str, hyperparameters: dict[str, Any], seed: int):
    if name not in ESTIMATORS:
        raise MlopsError(f"unknown estimator '{name}'; choose one of: {', '.join(ESTIMATORS)}")
    estimator_class = ESTIMATORS[name]
    allowed = estimator_class().get_params()
    for key in hyperparameters:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise MlopsError(
                f"unknown hyperparameter '{key}' for {name}{hint}; see train.hyperparameters in params.yaml"
            )
    settings = {"random_state": seed, **hyperparameters}
    return estimator_class(**settings)


# Estimators whose fit and predict spread over `n_jobs` cores (params.yaml n_jobs); the
# others ignore it or, like LogisticRegression since scikit-learn 1.8, warn that it does nothing.
PARALLEL = {"random_forest"}


def use_cores(model: Pipeline, n_jobs: int | None) -> Pipeline:
    """Let the model's estimator use `n_jobs` cores (None: one) when it can; results do not change."""
    estimator = model.named_steps["estimator"]
    if any(isinstance(estimator, ESTIMATORS[name]) for name in PARALLEL):
        estimator.set_params(n_jobs=n_jobs)
    return model


# Estimators that need standardised numeric features. Trees split on thresholds and need
# none; scaling them would only add float32 rounding in ONNX that can flip a split.
NEEDS_SCALING = {"logistic_regression"}


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
    return Pipeline(
        [
            ("preprocess", build_preprocessor(schema, scale=estimator in NEEDS_SCALING)),
            ("estimator", build_estimator(estimator, hyperparameters, seed)),
        ]
    )
