"""Stage `prepare`: clean the raw data, derive its schema, split it into train and test.

Cleaning drops exact duplicate rows and rows without a target, and coerces each
feature to its kind (numeric or categorical). The split is seeded, and stratified by class
for classification; a regression target is a number and is split at random.
The features, their kinds, categories and allowed ranges come from the reviewed
expectation suite (gx/) when there is one, so the model and the prediction service accept
what validation accepts; the classes are those in the data. Column roles (`columns` in
params.yaml) come first: ids and dropped columns are no features, a date column's features are
its parts, a high-cardinality column keeps its most frequent values (mlops.schema). The splits
keep the id and date columns beside the features, for joins and for posting rows as they came.
"""

from __future__ import annotations

from mlops import paths
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.io import read_table, write_table
from mlops.schema import Schema, Task, infer_schema, load_suite_schema


def clean(frame, target: str, task: Task = "classification"):
    """Drop exact duplicates and rows with no target; text columns holding only numbers become numeric.

    The target becomes a string label, or for regression a float.
    """
    import pandas as pd

    if target not in frame.columns:
        raise MlopsError(f"target column '{target}' not found; columns are: {', '.join(map(str, frame.columns))}")
    frame = frame.drop_duplicates().dropna(subset=[target]).reset_index(drop=True)
    if frame.empty:
        raise MlopsError("the dataset has no rows with a target value")
    for name in frame.columns.drop(target):
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numbers = pd.to_numeric(column, errors="coerce")
            if numbers.notna().sum() == column.notna().sum():
                frame[name] = numbers
    frame[target] = numeric_target(frame[target], target) if task == "regression" else frame[target].astype(str)
    return frame


def numeric_target(column, target: str):
    """A regression target as float64; one clear error for a value that is not a finite number."""
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce").astype("float64")
    bad = column[~np.isfinite(numbers)]
    if not bad.empty:
        raise MlopsError(
            f"data.task is regression, but target '{target}' has {len(bad)} value(s) that are not finite numbers "
            f"(e.g. {bad.iloc[0]!r}); fix the data, or set data.task: classification in params.yaml"
        )
    return numbers


def split(frame, schema: Schema, test_size: float, seed: int):
    from sklearn.model_selection import train_test_split

    if schema.regression:
        return split_at_random(frame, schema, test_size, seed)
    labels = frame[schema.target]
    counts = labels.value_counts()
    if len(counts) < 2:
        raise MlopsError(
            f"target '{schema.target}' has a single class ({counts.index[0]}): a classifier needs two or more"
        )
    n_test = round(len(frame) * test_size)
    rare = counts[counts < 2]
    if not rare.empty or n_test < len(counts) or len(frame) - n_test < len(counts):
        raise MlopsError(
            f"too few rows to split {len(frame)} rows with {len(counts)} classes stratified "
            f"(smallest class: {counts.min()} rows); add data or change prepare.test_size"
        )
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=labels)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def split_at_random(frame, schema: Schema, test_size: float, seed: int):
    """A regression split: seeded, not stratified (the target is a number, not a class)."""
    from sklearn.model_selection import train_test_split

    n_test = round(len(frame) * test_size)
    if n_test < 2 or len(frame) - n_test < 2:
        raise MlopsError(
            f"too few rows to split {len(frame)} rows into train and test with prepare.test_size {test_size}: "
            "each needs two or more; add data or change prepare.test_size"
        )
    if frame[schema.target].nunique() < 2:
        raise MlopsError(f"target '{schema.target}' has a single value: there is nothing to predict")
    train, test = train_test_split(frame, test_size=test_size, random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def with_suite(inferred: Schema, suite: Schema) -> Schema:
    """The inferred schema with the suite's rules for each ordinary feature (no role in params.yaml's columns).

    A categorical column whose allowed values the suite leaves open (new values allowed in a share
    of rows) keeps the categories seen in the data."""
    from dataclasses import replace

    ruled = {feature.name: feature for feature in suite.features}
    features = []
    for feature in inferred.features:
        rule = ruled.get(feature.name)
        if rule is None or feature.source is not None or feature.other:
            features.append(feature)
        elif rule.kind == "categorical" and not rule.categories and feature.kind == "categorical":
            features.append(replace(rule, categories=feature.categories))
        else:
            features.append(rule)
    return replace(inferred, features=features)


def prepare(
    frame,
    target: str,
    test_size: float,
    seed: int,
    suite_schema: Schema | None = None,
    task: Task = "classification",
    roles=None,
):
    """Clean, infer the schema (with the suite's rules and the column `roles`), split: returns (train, test,
    schema), features coerced, id and date columns kept beside them."""
    frame = clean(frame, target, task)
    schema = infer_schema(frame, target, task, roles)
    if suite_schema is not None:
        schema = with_suite(schema, suite_schema)
    if not schema.features:
        raise MlopsError(f"the dataset has no feature columns besides the target '{target}'")
    kept = [*schema.ids, *(date.name for date in schema.dates)]
    features = schema.features_frame(frame)
    clash = [name for name in features.columns if name in kept]
    if clash:
        raise MlopsError(f"column(s) {', '.join(clash)} clash with a date's parts: rename them in the data")
    frame = features.assign(**{name: frame[name] for name in [*kept, target]})
    train, test = split(frame, schema, test_size, seed)
    return train, test, schema


def main(params: Params) -> None:
    raw = read_table(paths.RAW)
    target, task = params.data.target, params.data.task
    suite_schema = load_suite_schema(paths.SUITE, target, task) if paths.SUITE.is_file() else None
    train, test, schema = prepare(
        raw, target, params.prepare.test_size, params.seed, suite_schema, task, params.columns
    )
    write_table(train, paths.TRAIN)
    write_table(test, paths.TEST)
    schema.save(paths.SCHEMA)
    print(
        f"prepare: {len(raw)} raw rows -> {len(train)} train + {len(test)} test; "
        f"{len(schema.numeric)} numeric, {len(schema.categorical)} categorical features; "
        + (f"ids {schema.ids}; " if schema.ids else "")
        + (f"dates {[date.name for date in schema.dates]}; " if schema.dates else "")
        + (f"regression target {target}" if schema.regression else f"classes {schema.classes}")
    )
