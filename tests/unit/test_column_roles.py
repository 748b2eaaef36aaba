"""Column roles (params.yaml's `columns`): ids, dropped columns, dates and high-cardinality categories."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from mlops.config import ColumnsParams, Params
from mlops.errors import MlopsError
from mlops.pipeline.prepare import prepare, with_suite
from mlops.schema import OTHER_CATEGORY, Schema, infer_schema
from tests.churn import CITY, DATE, ID, TARGET, churn, later
from tests.unit.conftest import MINIMAL_PARAMS

ROLES = ColumnsParams(ids=[ID], drop=["plan (tier)"], dates={DATE: "%Y-%m-%d"}, max_categories={CITY: 10})


@pytest.fixture(scope="module")
def frame():
    return churn(600)


@pytest.fixture(scope="module")
def prepared(frame):
    return prepare(frame, TARGET, 0.25, 0, roles=ROLES)


def test_an_id_is_kept_beside_the_features_never_one(prepared):
    train, test, schema = prepared
    assert schema.ids == [ID] and ID not in schema.columns and ID not in schema.inputs
    assert ID in train.columns and ID in test.columns  # for joins, prediction logs and feedback
    assert train[ID].is_unique


def test_a_dropped_column_is_in_no_split_and_no_feature(prepared):
    train, _, schema = prepared
    assert schema.dropped == ["plan (tier)"]
    assert "plan (tier)" not in schema.columns and "plan (tier)" not in train.columns


def test_a_date_becomes_parts_that_carry_over_to_later_dates(frame, prepared):
    train, _, schema = prepared
    parts = [f.name for f in schema.features if f.source == DATE]
    assert parts == [f"{DATE} (year)", f"{DATE} (month)", f"{DATE} (weekday)", f"{DATE} (days)"]
    assert DATE in schema.inputs and DATE in train.columns and DATE not in schema.columns
    (column,) = schema.dates
    assert column.reference == f"{frame[DATE].min()}T00:00:00" and column.format == "%Y-%m-%d"
    batch = later(frame, 20)
    features = schema.features_frame(batch)  # derived from the text: no 'unknown category' for a new date
    days = features[f"{DATE} (days)"]
    assert days.min() > train[f"{DATE} (days)"].max()
    first = date.fromisoformat(batch[DATE].iloc[0])
    assert days.iloc[0] == (first - date.fromisoformat(frame[DATE].min())).days
    assert features[f"{DATE} (weekday)"].iloc[0] == first.weekday()


def test_a_missing_or_malformed_date_is_missing_in_every_part(prepared):
    _, _, schema = prepared
    rows = pd.DataFrame({DATE: [None, "07/12/2026", ""]}).assign(
        **{f.name: "x" for f in schema.features if f.source is None}
    )
    features = schema.features_frame(rows)
    assert all(math.isnan(value) for value in features[[f"{DATE} (days)", f"{DATE} (month)"]].to_numpy().ravel())


def test_a_date_column_without_a_date_in_its_format_is_one_line(frame):
    roles = ColumnsParams(dates={DATE: "%d/%m/%Y"})
    with pytest.raises(MlopsError, match=r"column 'signup date' has no date in the format '%d/%m/%Y'.*e\.g\. '20"):
        infer_schema(frame, TARGET, roles=roles)


def test_a_high_cardinality_category_keeps_its_most_frequent_values(frame, prepared):
    _, _, schema = prepared
    (city,) = [f for f in schema.features if f.name == CITY]
    assert city.other == OTHER_CATEGORY and OTHER_CATEGORY in city.categories and len(city.categories) == 11
    top = frame[CITY].value_counts().index[:10]
    assert set(city.categories) == {*top, OTHER_CATEGORY}
    features = schema.features_frame(pd.concat([frame.head(3), later(frame, 3)]))
    assert set(features[CITY]) <= {*city.categories, ""}  # rare and unseen cities alike: (other); missing stays ""
    assert (features[CITY].iloc[3:] == OTHER_CATEGORY).sum() >= 2  # Newtown, Port Unseen


def test_a_role_naming_no_column_is_one_line(frame):
    with pytest.raises(MlopsError, match=r"params.yaml columns names 'client no', not in the data; columns are: "):
        infer_schema(frame, TARGET, roles=ColumnsParams(ids=["client no"]))


def test_a_column_has_one_role_and_the_target_none():
    with pytest.raises(ValueError, match="column 'a' has two roles, ids and drop: keep one"):
        ColumnsParams(ids=["a"], drop=["a"])
    raw = {**MINIMAL_PARAMS, "columns": {"ids": ["target"]}}
    with pytest.raises(ValueError, match="the target 'target' cannot be in columns.ids"):
        Params.model_validate(raw)


def test_the_schema_round_trips_with_its_roles(prepared, tmp_path):
    _, _, schema = prepared
    schema.save(tmp_path / "schema.json")
    assert Schema.load(tmp_path / "schema.json") == schema
    plain = Schema(features=[f for f in schema.features if f.source is None], target=TARGET, classes=["No", "Yes"])
    assert set(plain.to_dict()) == {"features", "target", "classes", "task"}  # as before roles: no empty keys
    assert all("source" not in f and "other" not in f for f in plain.to_dict()["features"] if f["name"] != CITY)


def test_the_suite_rules_ordinary_features_and_leaves_roles_alone(prepared):
    _, _, inferred = prepared
    from dataclasses import replace

    ruled = [replace(f, maximum=999.0) if f.kind == "numeric" else replace(f, categories=[]) for f in inferred.features]
    merged = with_suite(inferred, replace(inferred, features=ruled))
    by_name = {f.name: f for f in merged.features}
    assert by_name["support calls"].maximum == 999.0  # the suite's range
    assert by_name[f"{DATE} (days)"].maximum != 999.0  # a date's parts come from the data
    assert by_name[CITY] == next(f for f in inferred.features if f.name == CITY)  # grouped: as inferred
