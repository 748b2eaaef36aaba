"""Stage `prepare`: clean the raw data, derive its schema, split it into train and test.

Cleaning drops exact duplicate rows and rows without a target, and coerces each
feature to its kind (numeric or categorical). The split is seeded, and stratified by class
for classification; a regression target is a number and is split at random.
The features, their kinds, categories and allowed ranges come from the reviewed
expectation suite (gx/) when there is one, so the model and the prediction service accept
what validation accepts; the classes are those in the data.
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


def prepare(
    frame,
    target: str,
    test_size: float,
    seed: int,
    suite_schema: Schema | None = None,
    task: Task = "classification",
):
    """Clean, infer the schema (or take the suite's), split: returns (train, test, schema), features coerced."""
    frame = clean(frame, target, task)
    schema = infer_schema(frame, target, task)
    if suite_schema is not None:
        schema = Schema(features=suite_schema.features, target=target, classes=schema.classes, task=task)
    if not schema.features:
        raise MlopsError(f"the dataset has no feature columns besides the target '{target}'")
    frame = schema.features_frame(frame).assign(**{target: frame[target]})
    train, test = split(frame, schema, test_size, seed)
    return train, test, schema


def main(params: Params) -> None:
    raw = read_table(paths.RAW)
    target, task = params.data.target, params.data.task
    suite_schema = load_suite_schema(paths.SUITE, target, task) if paths.SUITE.is_file() else None
    train, test, schema = prepare(raw, target, params.prepare.test_size, params.seed, suite_schema, task)
    write_table(train, paths.TRAIN)
    write_table(test, paths.TEST)
    schema.save(paths.SCHEMA)
    print(
        f"prepare: {len(raw)} raw rows -> {len(train)} train + {len(test)} test; "
        f"{len(schema.numeric)} numeric, {len(schema.categorical)} categorical features; "
        + (f"regression target {target}" if schema.regression else f"classes {schema.classes}")
    )
