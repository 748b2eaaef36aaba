"""The one prediction path: the model, its input validation, and what is counted and logged.

Every protocol the service speaks (this service's /predict, MLflow and SageMaker's
/invocations, KServe V1, the Open Inference Protocol V2, Vertex AI) is a thin adapter:
it turns its request into validated columns with `service.validator`, calls
`service.predict`, and turns the `Prediction` into its own answer.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops.exported import ModelFiles, StartupError, configured_model_dir
from mlops.monitoring.drift_gauge import DriftCollector
from mlops.monitoring.prediction_log import DROP_REASONS, PredictionLog, row_id
from mlops.serving import runtime
from mlops.serving.metrics import Metrics
from mlops.serving.validation import RequestError, Validator

log = logging.getLogger("mlops.serving")
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Prediction:
    predictions: list  # per row: the class (a string), or for regression the predicted number
    probabilities: list[list[float]] | None  # per row, one per class in `classes` order, rounded; regression: None
    id: str  # the request's prediction id; row i's is `row_id(id, i)`, as the prediction log has it

    @property
    def ids(self) -> list[str]:
        return [row_id(self.id, index) for index in range(len(self.predictions))]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StartupError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise StartupError(f"{name}={raw!r} must be positive")
    return value


def as_rows(columns: dict[str, list]) -> list[dict[str, Any]]:
    """Validated columns back to {column: value} rows for the prediction log; NaN becomes null."""
    names = list(columns)
    lists = [values.tolist() if type(values) is np.ndarray else values for values in columns.values()]
    return [
        {name: None if value != value else value for name, value in zip(names, values, strict=True)}
        for values in zip(*lists, strict=True)
    ]


class PredictionService:
    """The model loaded once, with everything a prediction request needs; StartupError if it cannot be served.

    The model comes from `files` when given, else from `model_dir` when given, else from what the
    gunicorn master read at start-up (`runtime.served_files`), else from MLOPS_MODEL_DIR.
    """

    def __init__(self, model_dir: str | Path | None = None, files: ModelFiles | None = None):
        source = files or model_dir or runtime.served_files()
        source = source or configured_model_dir()
        self.metadata, self.predictor = runtime.load(source)
        self.max_rows = env_int("MLOPS_MAX_BATCH_ROWS", int(self.metadata.get("max_batch_rows") or 10_000))
        self.max_body = env_int("MLOPS_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
        self.validator = Validator(self.metadata, self.max_rows)
        # The name the platform routes by (KServe and V2 URLs); the registered model's unless set.
        self.name = os.environ.get("MLOPS_MODEL_NAME", "").strip() or str(self.metadata["name"])
        self.version = str(self.metadata["version"])
        self.regression = self.metadata.get("task") == "regression"
        self.classes = list(self.metadata["classes"])
        self.problem = runtime.self_test(self.metadata, self.predictor)  # None when ready
        expected = self.validator.expected
        self.watch = RangeWatch(expected, self.validator.missing) if expected else None
        buckets = tuple(self.metadata.get("prediction_buckets") or ())
        self.metrics = Metrics(str(self.metadata["name"]), self.version, buckets, (DriftCollector(),))
        # None unless MLOPS_PREDICTION_LOG_DIR is set
        self.prediction_log = PredictionLog.from_env(on_drop=self.metrics.count_log_dropped)
        if self.prediction_log is not None:
            for reason in DROP_REASONS:  # shown as 0 from the start, so an alert can tell "none" from "no data"
                self.metrics.log_dropped.labels(reason)

    @property
    def ready(self) -> bool:
        return self.problem is None

    def check_ready(self) -> None:
        if self.problem:
            raise RequestError(503, "model_not_ready", self.problem)

    def predict(self, columns: dict[str, list]) -> Prediction:
        """Predict validated columns ({column: [value per row]}, from `self.validator`)."""
        self.check_ready()
        if self.watch is not None:
            unexpected = self.watch(columns)
            if unexpected:
                self.metrics.count_out_of_range(unexpected)
                log.warning("values outside what training saw (predicted anyway): %s", format_counts(unexpected))
        predictions, probabilities = self.predictor.predict(columns)
        if self.regression:
            self.metrics.observe_values(predictions)
        else:
            self.metrics.count_predictions(predictions)
            probabilities = np.asarray(probabilities, dtype=np.float64).round(6).tolist()
        prediction = Prediction(predictions, probabilities, uuid.uuid4().hex)
        if self.prediction_log is not None:
            self.prediction_log.record(as_rows(columns), predictions, probabilities, self.version, prediction.id)
        return prediction


class RangeWatch:
    """Counts values training never had: below the minimum, above the maximum, missing (serve.out_of_range:
    accept), a category it never saw (serve.unknown_categories: accept)."""

    def __init__(self, expected: dict[str, dict], missing: str):
        self.numeric = [
            (name, bounds["minimum"], bounds["maximum"], bounds["nullable"])
            for name, bounds in expected.items()
            if "minimum" in bounds
        ]
        self.categorical = [
            (
                name,
                not bounds.get("nullable", True),
                frozenset(bounds["categories"]) if "categories" in bounds else None,
            )
            for name, bounds in expected.items()
            if "minimum" not in bounds
        ]
        self.missing = missing

    def __call__(self, columns: dict[str, list]) -> dict[tuple[str, str], int]:
        """{(column, "below_minimum" | "above_maximum" | "missing" | "unknown_category"): count}, nonzero only."""
        counts: dict[tuple[str, str], int] = {}
        for name, low, high, nullable in self.numeric:
            values = columns[name]
            if within(values, low, high):
                continue  # the common case, at the speed of three built-in passes
            found = {
                "below_minimum": sum(1 for v in values if v < low) if low is not None else 0,
                "above_maximum": sum(1 for v in values if v > high) if high is not None else 0,
                "missing": sum(1 for v in values if v != v) if not nullable else 0,
            }
            counts.update({(name, problem): count for problem, count in found.items() if count})
        for name, counts_missing, known in self.categorical:
            values = columns[name]
            missing = sum(1 for value in values if value == self.missing) if counts_missing else 0
            unknown = (
                sum(1 for value in values if value not in known and value != self.missing) if known is not None else 0
            )
            counts.update(
                {key: n for key, n in (((name, "missing"), missing), ((name, "unknown_category"), unknown)) if n}
            )
        return counts


def within(values: list[float] | np.ndarray, low: float | None, high: float | None) -> bool:
    """True when no value is missing (NaN) and all are within [low, high] (None: no bound)."""
    if type(values) is np.ndarray:  # a binary or columnar body's column: the same passes in numpy
        total = values.sum()
        return total == total and (low is None or values.min() >= low) and (high is None or values.max() <= high)
    total = sum(values)  # NaN (a missing value) if any is; validated values are finite
    return total == total and (low is None or min(values) >= low) and (high is None or max(values) <= high)


def format_counts(counts: dict[tuple[str, str], int]) -> str:
    return ", ".join(f"{column} {problem.replace('_', ' ')}: {count}" for (column, problem), count in counts.items())
