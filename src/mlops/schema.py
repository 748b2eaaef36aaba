"""The data schema: which columns the model reads, their kinds, categories, and the task.

`prepare` takes it from the reviewed expectation suite (gx/expectations/raw_dataset.json,
read here as plain JSON, without Great Expectations) and saves it as JSON; training,
evaluation, export and the prediction service all read that one file, so what validation
enforces, what training saw and what serving accepts cannot drift apart.

Categorical values are strings. A missing categorical value is the empty string
`MISSING_CATEGORY` (not NaN) from `coerce` on, so the model and its ONNX export agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlops.errors import MlopsError
from mlops.io import read_json, write_json

MISSING_CATEGORY = ""
Kind = Literal["numeric", "categorical"]
Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Feature:
    name: str
    kind: Kind
    categories: list[str] = field(default_factory=list)  # categorical only, sorted
    minimum: float | None = None  # numeric only: the allowed range (the suite's, else as seen in the data)
    maximum: float | None = None
    nullable: bool = True  # False when the suite expects no missing values at all


@dataclass(frozen=True)
class Schema:
    features: list[Feature]
    target: str
    classes: list[str]  # classification: the labels, sorted; regression: none
    task: Task = "classification"

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def columns(self) -> list[str]:
        return [feature.name for feature in self.features]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            features=[Feature(**feature) for feature in data["features"]],
            target=data["target"],
            classes=list(data["classes"]),
            task=data.get("task", "classification"),
        )

    def save(self, path: Path | str) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path | str) -> Schema:
        return cls.from_dict(read_json(path))

    def features_frame(self, frame):
        """The feature columns of `frame`, in schema order, coerced to the model's dtypes."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise MlopsError(f"missing feature column(s): {', '.join(missing)}")
        return coerce_features(frame[self.columns], self)

    def target_series(self, frame):
        """The target: class labels as strings, or for regression numbers as float64."""
        if self.target not in frame.columns:
            raise MlopsError(f"target column '{self.target}' not found")
        return frame[self.target].astype("float64" if self.regression else str)


def is_categorical(series) -> bool:
    import pandas as pd

    return not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def coerce_features(frame, schema: Schema):
    """Numeric columns to float64 (unparseable values become NaN), categorical to strings."""
    import pandas as pd

    out = {}
    for feature in schema.features:
        column = frame[feature.name]
        if feature.kind == "numeric":
            out[feature.name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            out[feature.name] = categorical_strings(column)
    return pd.DataFrame(out, index=frame.index)


def categorical_strings(column):
    """Strings with missing values as MISSING_CATEGORY; 1.0 read from a CSV stays '1'."""
    import pandas as pd

    def text(value: Any) -> str:
        if pd.isna(value):
            return MISSING_CATEGORY
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return column.map(text).astype(object)


def infer_schema(frame, target: str, task: Task = "classification") -> Schema:
    """Derive the schema from a cleaned frame: each non-target column is a feature."""
    features = []
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        if is_categorical(column):
            values = categorical_strings(column)
            categories = sorted(set(values) - {MISSING_CATEGORY})
            features.append(Feature(name=name, kind="categorical", categories=categories))
        else:
            features.append(
                Feature(
                    name=name,
                    kind="numeric",
                    minimum=_finite_or_none(column.min()),
                    maximum=_finite_or_none(column.max()),
                )
            )
    classes = [] if task == "regression" else sorted(frame[target].astype(str).unique().tolist())
    return Schema(features=features, target=target, classes=classes, task=task)


def _finite_or_none(value: Any) -> float | None:
    import math

    value = float(value)
    return value if math.isfinite(value) else None


# The dtypes a numeric column may have: the suite's type list for it, and how a suite's
# column is known to be numeric.
NUMERIC_DTYPES = (
    *("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    *("Int64", "float32", "float64", "Float64"),
)


def schema_from_suite(suite: dict[str, Any], target: str, task: Task = "classification") -> Schema:
    """The schema a Great Expectations suite enforces: column order, kinds, categories, ranges, labels.

    Reads the suite's JSON as GX writes it, so the prediction service needs no GX import.
    """
    expectations = suite.get("expectations", [])
    ordered = [e for e in expectations if e["type"] == "expect_table_columns_to_match_ordered_list"]
    if not ordered:
        raise MlopsError("the expectation suite has no expect_table_columns_to_match_ordered_list: rerun infer")
    rules: dict[str, dict[str, Any]] = {}
    for item in expectations:
        kwargs = item.get("kwargs", {})
        if "column" not in kwargs or kwargs.get("mostly", 1) < 1:  # `mostly` < 1: a share, not a rule
            continue
        rule = rules.setdefault(kwargs["column"], {})
        kind = item["type"]
        if kind == "expect_column_values_to_be_in_type_list":
            rule["numeric"] = set(kwargs["type_list"]) <= set(NUMERIC_DTYPES)
        elif kind == "expect_column_values_to_be_between":
            rule["minimum"], rule["maximum"] = kwargs.get("min_value"), kwargs.get("max_value")
        elif kind == "expect_column_values_to_be_in_set":
            rule["values"] = [str(value) for value in kwargs["value_set"]]
        elif kind == "expect_column_values_to_not_be_null":
            rule["nullable"] = False
    features = []
    for name in ordered[0]["kwargs"]["column_list"]:
        if name == target:
            continue
        rule = rules.get(name, {})
        nullable = rule.get("nullable", True)
        if rule.get("numeric", "values" not in rule):
            bounds = {"minimum": rule.get("minimum"), "maximum": rule.get("maximum")}
            features.append(Feature(name=name, kind="numeric", nullable=nullable, **bounds))
        else:
            categories = sorted(rule.get("values", []))
            features.append(Feature(name=name, kind="categorical", categories=categories, nullable=nullable))
    classes = [] if task == "regression" else sorted(rules.get(target, {}).get("values", []))
    return Schema(features=features, target=target, classes=classes, task=task)


def load_suite_schema(path: Path | str, target: str, task: Task = "classification") -> Schema:
    return schema_from_suite(read_json(path), target, task)
