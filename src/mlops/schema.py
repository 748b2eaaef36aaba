"""The data schema: which columns the model reads, their kinds, categories, and the task.

`prepare` takes it from the reviewed expectation suite (gx/expectations/raw_dataset.json,
read here as plain JSON, without Great Expectations) and saves it as JSON; training,
evaluation, export and the prediction service all read that one file, so what validation
enforces, what training saw and what serving accepts cannot drift apart.

Categorical values are strings. A missing categorical value is the empty string
`MISSING_CATEGORY` (not NaN) from `coerce` on, so the model and its ONNX export agree.

Column roles (`columns` in params.yaml, docs/data.md) shape it: id columns (`ids`) and dropped
columns (`dropped`) are no features; a date column (`dates`) becomes numeric features derived
from it (mlops.dates); a high-cardinality category keeps its most frequent values and reads any
other as `OTHER_CATEGORY` (`Feature.other`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlops.errors import MlopsError
from mlops.io import read_json, write_json

MISSING_CATEGORY = ""
OTHER_CATEGORY = "(other)"  # every value of a high-cardinality column beyond its most frequent ones
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
    source: str | None = None  # a part of this date column (Schema.dates), derived from it; None: a data column
    other: str | None = None  # categorical: what a value outside `categories` becomes (columns.max_categories)


@dataclass(frozen=True)
class DateColumn:
    name: str
    format: str  # strptime format of its text
    reference: str  # ISO date the `days` part counts from: the earliest date in training


@dataclass(frozen=True)
class Schema:
    features: list[Feature]
    target: str
    classes: list[str]  # classification: the labels, sorted; regression: none
    task: Task = "classification"
    ids: list[str] = field(default_factory=list)  # identify a row; kept beside the features, never one
    dates: list[DateColumn] = field(default_factory=list)  # read through their parts (features with a source)
    dropped: list[str] = field(default_factory=list)  # in the data, not in the model

    @property
    def inputs(self) -> list[str]:
        """The columns a row to predict holds, ids aside: each feature's, a date column once for its parts."""
        names: list[str] = []
        for feature in self.features:
            name = feature.source or feature.name
            if name not in names:
                names.append(name)
        return names

    def date(self, name: str) -> DateColumn:
        return next(date for date in self.dates if date.name == name)

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
        """As JSON: a role or a feature's field left at its default is left out (a schema without roles reads
        as it did before there were any)."""
        data = asdict(self)
        data["features"] = [
            {key: value for key, value in feature.items() if key not in ("source", "other") or value is not None}
            for feature in data["features"]
        ]
        return {key: value for key, value in data.items() if key not in ("ids", "dates", "dropped") or value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            features=[Feature(**feature) for feature in data["features"]],
            target=data["target"],
            classes=list(data["classes"]),
            task=data.get("task", "classification"),
            ids=list(data.get("ids", [])),
            dates=[DateColumn(**date) for date in data.get("dates", [])],
            dropped=list(data.get("dropped", [])),
        )

    def save(self, path: Path | str) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path | str) -> Schema:
        return cls.from_dict(read_json(path))

    def features_frame(self, frame):
        """The feature columns of `frame`, in schema order, coerced to the model's dtypes.

        A date's parts are read from `frame` when it has them, else derived from the date column."""
        missing = [
            feature.source or feature.name
            for feature in self.features
            if feature.name not in frame.columns and (feature.source is None or feature.source not in frame.columns)
        ]
        if missing:
            raise MlopsError(f"missing feature column(s): {', '.join(dict.fromkeys(missing))}")
        return coerce_features(frame, self)

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
    derived: dict[str, dict[str, list[float]]] = {}
    for feature in schema.features:
        if feature.name not in frame.columns and feature.source is not None:
            if feature.source not in derived:
                derived[feature.source] = date_features(frame[feature.source], schema.date(feature.source))
            out[feature.name] = pd.Series(derived[feature.source][feature.name], index=frame.index, dtype="float64")
            continue
        column = frame[feature.name]
        if feature.kind == "numeric":
            out[feature.name] = pd.to_numeric(column, errors="coerce").astype("float64")
        else:
            out[feature.name] = grouped(categorical_strings(column), feature)
    return pd.DataFrame(out, index=frame.index)


def grouped(values, feature: Feature):
    """A high-cardinality column's values outside its kept categories as OTHER_CATEGORY (missing stays missing)."""
    if not feature.other:
        return values
    kept = set(feature.categories) | {MISSING_CATEGORY}
    return values.where(values.isin(kept), feature.other)


def date_features(column, date: DateColumn) -> dict[str, list[float]]:
    """{part's feature name: values} of a date column (mlops.dates): NaN where a value is missing or no date."""
    from datetime import datetime

    from mlops import dates

    reference = datetime.fromisoformat(date.reference)
    rows = [dates.text_parts(value, date.format, reference) for value in column.tolist()]
    return {dates.part_name(date.name, part): [row[index] for row in rows] for index, part in enumerate(dates.PARTS)}


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


def infer_schema(frame, target: str, task: Task = "classification", roles=None) -> Schema:
    """Derive the schema from a cleaned frame: each non-target column is a feature, unless `roles`
    (params.yaml's `columns`) makes it an id, drops it, reads it as a date or groups its rare values."""
    ids, drop = list(getattr(roles, "ids", [])), list(getattr(roles, "drop", []))
    date_formats: dict[str, str] = dict(getattr(roles, "dates", {}))
    max_categories: dict[str, int] = dict(getattr(roles, "max_categories", {}))
    named = [*ids, *drop, *date_formats, *max_categories]
    unknown = [name for name in named if name not in frame.columns]
    if unknown:
        raise MlopsError(
            f"params.yaml columns names {', '.join(map(repr, unknown))}, not in the data; "
            f"columns are: {', '.join(map(str, frame.columns))}"
        )
    features, dates = [], []
    for name in frame.columns:
        if name == target or name in ids or name in drop:
            continue
        column = frame[name]
        if name in date_formats:
            date, parts = date_column(column, name, date_formats[name])
            dates.append(date)
            features.extend(parts)
        elif is_categorical(column) or name in max_categories:
            features.append(categorical_feature(categorical_strings(column), name, max_categories.get(name)))
        else:
            features.append(numeric_feature(column, name))
    classes = [] if task == "regression" else sorted(frame[target].astype(str).unique().tolist())
    return Schema(features=features, target=target, classes=classes, task=task, ids=ids, dates=dates, dropped=drop)


def numeric_feature(column, name: str, source: str | None = None) -> Feature:
    return Feature(
        name=name,
        kind="numeric",
        minimum=_finite_or_none(column.min()),
        maximum=_finite_or_none(column.max()),
        source=source,
    )


def categorical_feature(values, name: str, keep: int | None = None) -> Feature:
    """The categories of a column of strings; with `keep`, its `keep` most frequent ones and OTHER_CATEGORY."""
    present = values[values != MISSING_CATEGORY]
    if keep is None:
        return Feature(name=name, kind="categorical", categories=sorted(set(present)))
    counts = present.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))  # ties by name: the same every run
    kept = sorted(value for value, _ in ranked[:keep])
    return Feature(name=name, kind="categorical", categories=sorted([*kept, OTHER_CATEGORY]), other=OTHER_CATEGORY)


def date_column(column, name: str, fmt: str) -> tuple[DateColumn, list[Feature]]:
    """A date column and the numeric features of its parts; MlopsError when none of its values is a date in `fmt`."""
    import pandas as pd

    from mlops import dates

    moments = []
    for value in column.tolist():
        if dates.is_missing(value):
            continue
        try:
            moments.append(dates.parse(str(value), fmt))
        except ValueError:
            continue
    if not moments:
        example = column.dropna().astype(str).head(1).tolist()
        raise MlopsError(
            f"column {name!r} has no date in the format {fmt!r} (columns.dates in params.yaml)"
            + (f"; it holds e.g. {example[0]!r}" if example else "")
        )
    reference = min(moments).replace(hour=0, minute=0, second=0, microsecond=0)
    date = DateColumn(name=name, format=fmt, reference=reference.isoformat())
    derived = pd.DataFrame(date_features(column, date))
    return date, [numeric_feature(derived[part], part, source=name) for part in derived.columns]


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
        if "column" not in kwargs:
            continue
        # `mostly` < 1: a share, not a rule; but a feature's known values are its categories all the same
        # (the target's one-label sets with `mostly` bound class shares).
        known_values = item["type"] == "expect_column_values_to_be_in_set" and kwargs["column"] != target
        if kwargs.get("mostly", 1) < 1 and not known_values:
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
