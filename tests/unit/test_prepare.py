import numpy as np
import pandas as pd
import pytest

from mlops.errors import MlopsError
from mlops.pipeline.prepare import clean, prepare
from mlops.schema import MISSING_CATEGORY, Schema, infer_schema


def test_clean_drops_duplicates_and_unlabelled_rows(mixed_frame):
    frame = pd.concat([mixed_frame, mixed_frame.head(5)], ignore_index=True)
    frame.loc[10, "churned"] = None  # a row that has no duplicate
    cleaned = clean(frame, "churned")
    assert len(cleaned) == len(mixed_frame) - 1
    assert cleaned["churned"].map(type).eq(str).all()


def test_clean_turns_numbers_stored_as_text_into_numbers():
    frame = pd.DataFrame({"size": ["1.5", "2", None, "4"], "colour": ["red", "1", "blue", "red"], "y": [0, 1, 0, 1]})
    cleaned = clean(frame, "y")
    schema = infer_schema(cleaned, "y")
    assert schema.numeric == ["size"]
    assert schema.categorical == ["colour"]
    assert schema.classes == ["0", "1"]


def test_schema_of_mixed_data(mixed_frame):
    train, test, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=1)
    assert schema.numeric == ["age", "income"]
    assert schema.categorical == ["plan", "region"]
    assert schema.features[2].categories == ["basic", "pro", "team"]
    assert schema.features[3].categories == ["north", "south"]  # missing is not a category
    assert schema.classes == ["no", "yes"]
    both = pd.concat([train, test])
    assert (both["region"] == MISSING_CATEGORY).sum() > 0
    assert both["region"].map(type).eq(str).all()
    assert both["income"].isna().sum() > 0 and both["income"].dtype == np.float64


def test_schema_round_trips_through_json(tmp_path, mixed_frame):
    _, _, schema = prepare(mixed_frame, "churned", test_size=0.25, seed=1)
    schema.save(tmp_path / "schema.json")
    assert Schema.load(tmp_path / "schema.json") == schema


def test_split_is_stratified_and_deterministic(iris_frame):
    train_a, test_a, _ = prepare(iris_frame, "target", test_size=0.2, seed=7)
    train_b, test_b, _ = prepare(iris_frame, "target", test_size=0.2, seed=7)
    _, test_c, _ = prepare(iris_frame, "target", test_size=0.2, seed=8)
    pd.testing.assert_frame_equal(test_a, test_b)
    pd.testing.assert_frame_equal(train_a, train_b)
    assert not test_a.equals(test_c)
    assert test_a["target"].value_counts().tolist() == [10, 10, 10]


def test_single_class_target_is_refused(mixed_frame):
    mixed_frame["churned"] = "yes"
    with pytest.raises(MlopsError, match="single class"):
        prepare(mixed_frame, "churned", test_size=0.2, seed=0)


def test_too_few_rows_to_split_is_refused():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "b"]})
    with pytest.raises(MlopsError, match="too few rows"):
        prepare(frame, "y", test_size=0.2, seed=0)


def test_missing_target_column_is_named(mixed_frame):
    with pytest.raises(MlopsError, match="target column 'label' not found"):
        prepare(mixed_frame, "label", test_size=0.2, seed=0)
