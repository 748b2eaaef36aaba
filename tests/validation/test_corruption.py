"""The corruption matrix: each corrupted copy of a synthetic dataset fails, naming the right expectation.

And the other side of it: the clean data, its reorderings and random subsamples pass, so
the distribution bounds do not raise false alarms on good data.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlops.validation.checkpoint import validate_file
from mlops.validation.summary import failure_message, summary_markdown

from .conftest import CLASSES, FEATURE, NON_NEGATIVE


def with_nulls(frame):
    frame = frame.copy()
    frame.loc[frame.sample(20, random_state=0).index, FEATURE] = np.nan
    return frame


def out_of_range(frame):
    frame = frame.copy()
    frame.loc[3, NON_NEGATIVE] = 1e6
    return frame


def as_strings(frame):
    return frame.assign(**{FEATURE: frame[FEATURE].map(lambda value: f"{value} mm")})


def unseen_label(frame):
    frame = frame.copy()
    frame.loc[:4, "target"] = "unknown"
    return frame


def shifted(frame):
    return frame.assign(**{FEATURE: frame[FEATURE] + 3 * frame[FEATURE].std()})


def flipped_balance(frame):
    swap = dict(zip(CLASSES, reversed(CLASSES), strict=True))
    return frame.assign(target=frame["target"].map(swap))


def reordered(frame):
    columns = list(frame.columns)
    return frame[[columns[1], columns[0], *columns[2:]]]


# case -> (corruption of the frame, or raw file bytes), failed expectation, its column
FRAME_CASES = {
    "nulls injected": (with_nulls, "expect_column_values_to_not_be_null", FEATURE),
    "out-of-range value": (out_of_range, "expect_column_values_to_be_between", NON_NEGATIVE),
    "dropped column": (lambda f: f.drop(columns=["width"]), "expect_table_columns_to_match_set", None),
    "renamed column": (lambda f: f.rename(columns={FEATURE: "size"}), "expect_table_columns_to_match_set", None),
    "reordered columns": (reordered, "expect_table_columns_to_match_ordered_list", None),
    "extra column": (lambda f: f.assign(extra=1.0), "expect_table_columns_to_match_set", None),
    "numbers as strings": (as_strings, "expect_column_values_to_be_in_type_list", FEATURE),
    "unseen target label": (unseen_label, "expect_column_values_to_be_in_set", "target"),
    "header only": (lambda f: f.iloc[0:0], "expect_table_row_count_to_be_between", None),
    "feature shifted by 3 sd": (shifted, "expect_column_mean_to_be_between", FEATURE),
    "class balance flipped": (flipped_balance, "expect_column_values_to_be_in_set", "target"),
}


def failures(result) -> set[tuple[str, str | None]]:
    return {(entry["expectation"], entry["column"]) for entry in result["expectations"] if not entry["success"]}


@pytest.mark.parametrize("case", FRAME_CASES)
def test_corrupted_data_fails_naming_the_expectation(case, clean_frame, gx_context, tmp_path):
    corrupt, expectation, column = FRAME_CASES[case]
    path = tmp_path / "batch.csv"
    corrupt(clean_frame).to_csv(path, index=False)

    result = validate_file(path, gx_context)

    assert result["success"] is False
    assert (expectation, column) in failures(result)
    message = failure_message(result, tmp_path / "summary.md")
    assert f"{expectation}({column or 'table'})" in message
    assert f"`{expectation}`" in summary_markdown(result)


def test_shift_also_moves_the_quantiles(clean_frame, gx_context, tmp_path):
    path = tmp_path / "shifted.csv"
    shifted(clean_frame).to_csv(path, index=False)
    assert ("expect_column_quantile_values_to_be_between", FEATURE) in failures(validate_file(path, gx_context))


def test_flipped_balance_fails_the_class_share_bounds(clean_frame, gx_context, tmp_path):
    path = tmp_path / "flipped.csv"
    flipped_balance(clean_frame).to_csv(path, index=False)
    result = validate_file(path, gx_context)
    shares = [e for e in result["expectations"] if e["column"] == "target" and e["kwargs"].get("mostly")]
    assert any(not e["success"] for e in shares)
    assert all(e["success"] for e in result["expectations"] if e["column"] not in ("target", None))


def test_empty_file_fails_on_columns_and_row_count(gx_context, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    found = failures(validate_file(path, gx_context))
    assert ("expect_table_columns_to_match_set", None) in found
    assert ("expect_table_row_count_to_be_between", None) in found


def test_a_file_that_is_not_csv_fails_with_the_reason(gx_context, tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x80" * 20)
    result = validate_file(path, gx_context)
    assert result["success"] is False
    assert "could not be read as CSV" in result["error"]
    assert "could not be read as CSV" in failure_message(result, tmp_path / "summary.md")


def test_clean_data_passes(clean_frame, gx_context, tmp_path):
    path = tmp_path / "clean.parquet"
    clean_frame.to_parquet(path, index=False)
    result = validate_file(path, gx_context)
    assert result["success"], failures(result)
    assert result["statistics"]["failed"] == 0
    assert result["statistics"]["evaluated"] > 20


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fraction", [0.51, 0.75, 1.0])
def test_random_subsamples_and_reorderings_of_clean_data_pass(seed, fraction, clean_frame, gx_context, tmp_path):
    """No false alarms: a shuffled random subsample (down to the suite's minimum rows) is good data."""
    sample = clean_frame.sample(frac=fraction, random_state=seed)
    path = tmp_path / "sample.csv"
    sample.to_csv(path, index=False)
    result = validate_file(path, gx_context)
    assert result["success"], failures(result)


def test_bootstrap_resamples_of_clean_data_pass(clean_frame, gx_context, tmp_path):
    """Drawing rows with replacement (a new batch from the same source) passes too."""
    for seed in range(3):
        sample = clean_frame.sample(n=len(clean_frame), replace=True, random_state=100 + seed)
        path = tmp_path / f"bootstrap{seed}.csv"
        sample.to_csv(path, index=False)
        result = validate_file(path, gx_context)
        assert result["success"], failures(result)


def test_result_is_plain_json_with_observed_values(clean_frame, gx_context, tmp_path):
    import json

    path = tmp_path / "nulls.csv"
    with_nulls(clean_frame).to_csv(path, index=False)
    result = validate_file(path, gx_context)
    text = json.dumps(result, allow_nan=False)  # NaN would not be valid JSON
    entry = next(
        e
        for e in json.loads(text)["expectations"]
        if e["expectation"] == "expect_column_values_to_not_be_null" and e["column"] == FEATURE
    )
    assert entry["observed"]["unexpected_count"] == 20
    assert set(entry) >= {"column", "expectation", "kwargs", "observed", "success"}
