"""Property tests of the request validator: valid rows always convert, anything else is a clean 4xx."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.serving.validation import RequestError, Validator

METADATA = {
    "schema": {
        "features": [
            {"name": "size", "kind": "numeric", "minimum": 0.0, "maximum": 20.0},
            {"name": "color", "kind": "categorical", "categories": ["blue", "green", "red"]},
            {"name": "weight", "kind": "numeric"},
        ]
    },
    "missing_category": "",
    "unknown_categories": "reject",
}
VALIDATOR = Validator(METADATA, max_rows=50)
COLUMNS = VALIDATOR.columns
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(st.none(), st.integers(-(10**30), 10**30), st.floats(-3e38, 3e38, allow_nan=False))
colors = st.one_of(st.none(), st.sampled_from(["blue", "green", "red", "", " red "]))
records = st.fixed_dictionaries({"size": numbers, "color": colors, "weight": numbers})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(st.lists(records, min_size=1, max_size=50))
def test_valid_records_convert_to_model_input(rows):
    columns = VALIDATOR.instances(rows)
    assert list(columns) == COLUMNS
    assert all(len(values) == len(rows) for values in columns.values())
    for row, size, color in zip(rows, columns["size"], columns["color"], strict=True):
        assert type(size) is float
        assert math.isnan(size) if row["size"] is None else size == float(row["size"])
        assert color in {"blue", "green", "red", ""}
        assert color == ("" if row["color"] is None else row["color"].strip())


@SETTINGS
@given(st.lists(records, min_size=1, max_size=20))
def test_rows_in_schema_order_convert_like_records(rows):
    as_rows = [[row[name] for name in COLUMNS] for row in rows]
    by_records, by_rows = VALIDATOR.instances(rows), VALIDATOR.instances(as_rows)
    for name in COLUMNS:
        assert [repr(v) for v in by_records[name]] == [repr(v) for v in by_rows[name]]


@SETTINGS
@given(json_values)
def test_any_json_is_converted_or_rejected_with_a_4xx(instances):
    try:
        columns = VALIDATOR.instances(instances)
    except RequestError as error:
        assert 400 <= error.status < 500
        assert error.code and error.message
    else:
        assert all(len(values) == len(instances) for values in columns.values())


bad_values = {
    "size": st.one_of(st.text(max_size=5), st.booleans(), st.just(math.nan), st.just(math.inf), st.just(1e39)),
    "color": st.one_of(st.text(min_size=1, max_size=5).filter(lambda t: t.strip() not in {"blue", "green", "red", ""}),
                       st.booleans(), st.floats(allow_nan=True).filter(lambda f: not f.is_integer())),
}  # fmt: skip


@SETTINGS
@given(st.lists(records, min_size=1, max_size=10), st.data())
def test_one_bad_value_is_reported_at_its_row_and_column(rows, data):
    index = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(sorted(bad_values)))
    rows[index] = {**rows[index], column: data.draw(bad_values[column])}
    try:
        VALIDATOR.instances(rows)
    except RequestError as error:
        assert error.status == 400 and error.code == "invalid_instances"
        assert error.details["problems"] == [
            {"row": index, "column": column, "problem": error.details["problems"][0]["problem"]}
        ]
    else:
        raise AssertionError(f"{rows[index][column]!r} in column {column} was accepted")


@SETTINGS
@given(records, st.sets(st.sampled_from(COLUMNS), min_size=1), st.sets(st.text(min_size=1, max_size=6), max_size=3))
def test_missing_and_unknown_columns_are_named(record, dropped, added):
    added = {name for name in added if name not in COLUMNS}
    broken = {k: v for k, v in record.items() if k not in dropped} | dict.fromkeys(added, 1)
    try:
        VALIDATOR.instances([broken])
    except RequestError as error:
        problem = error.details["problems"][0]
        assert problem["missing"] == [name for name in COLUMNS if name in dropped]
        assert problem["unknown"] == sorted(added)
    else:
        raise AssertionError("a record with missing columns was accepted")
