"""`mlops validate --data`, `mlops expectations infer`, and the schema the suite hands to serving."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlops.schema import load_suite_schema, schema_from_suite
from mlops.validation.expectations import infer_suite
from tests import factories

from .conftest import CLASSES, TEXT


def mlops(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # two `mlops validate` processes, each importing GX
def test_validate_data_fails_a_bad_batch_with_one_line_and_passes_a_good_one(clean_frame, gx_root):
    bad = clean_frame.drop(columns=["width"]).assign(target="unknown")
    bad.to_csv(gx_root / "bad.csv", index=False)
    clean_frame.to_csv(gx_root / "good.csv", index=False)

    failed = mlops("validate", "--data", "bad.csv", cwd=gx_root)
    assert failed.returncode == 1
    message = failed.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("mlops validate: error: bad.csv failed")
    assert "expect_table_columns_to_match_set(table)" in message
    assert "expect_column_values_to_be_in_set(target)" in message
    result = json.loads((gx_root / "reports/validation/batch/result.json").read_text())
    assert result["success"] is False and result["data"] == "bad.csv"
    summary = (gx_root / "reports/validation/batch/summary.md").read_text()
    assert "| Column | Expectation | Expected | Observed |" in summary
    assert "missing ['width']" in summary
    assert (gx_root / "reports/validation/docs/index.html").is_file()  # Data Docs built

    passed = mlops("validate", "--data", "good.csv", cwd=gx_root)
    assert passed.returncode == 0, passed.stderr
    assert "passed all" in passed.stdout
    assert not (gx_root / "reports/validation/result.json").exists()  # the pipeline's result is left alone


def test_infer_writes_rules_for_numeric_categorical_nulls_and_labels():
    columns = {
        "age": factories.numeric(40, 10),
        "plan": factories.category(["basic", "pro"]),
        "spend": factories.gamma(2, 10, missing=0.02),
    }
    frame = factories.table(400, 0, columns, factories.drawn_labels(["no", "yes"], [0.7, 0.3]), target="churned")
    suite = infer_suite(frame, "churned")
    by_key = {(e["type"], e["kwargs"].get("column"), str(e["kwargs"].get("value_set"))): e for e in suite}

    assert by_key[("expect_table_columns_to_match_ordered_list", None, "None")]["kwargs"]["column_list"] == list(frame)
    assert by_key[("expect_table_row_count_to_be_between", None, "None")]["kwargs"]["min_value"] == 200
    assert by_key[("expect_column_values_to_not_be_null", "age", "None")]["kwargs"].get("mostly") is None
    assert 0.9 < by_key[("expect_column_values_to_not_be_null", "spend", "None")]["kwargs"]["mostly"] < 0.98
    assert by_key[("expect_column_values_to_be_in_set", "plan", "['basic', 'pro']")]
    assert by_key[("expect_column_values_to_be_in_set", "churned", "['no', 'yes']")]
    spend_range = by_key[("expect_column_values_to_be_between", "spend", "None")]["kwargs"]
    assert spend_range["min_value"] == 0.0  # never negative in the data: the margin stops at zero
    assert spend_range["max_value"] > frame["spend"].max()
    share = by_key[("expect_column_values_to_be_in_set", "churned", "['yes']")]["kwargs"]["mostly"]
    assert 0.1 < share < frame["churned"].eq("yes").mean()

    schema = schema_from_suite({"expectations": suite}, "churned")
    assert schema.columns == ["age", "plan", "spend"]
    assert [f.kind for f in schema.features] == ["numeric", "categorical", "numeric"]
    assert schema.features[1].categories == ["basic", "pro"]
    assert schema.features[2].nullable and not schema.features[0].nullable
    assert schema.classes == ["no", "yes"]


def test_a_stored_suite_gives_serving_its_schema_without_great_expectations(gx_root, clean_frame):
    """Serving reads columns, kinds and ranges from the suite as plain JSON: no GX import."""
    code = (
        "import sys; from mlops.schema import load_suite_schema; "
        "s = load_suite_schema('gx/expectations/raw_dataset.json', 'target'); "
        "print(','.join(s.columns), ','.join(s.classes), 'great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=gx_root, capture_output=True, text=True, check=True).stdout
    features = [name for name in clean_frame.columns if name != "target"]
    assert out.split() == [",".join(features), ",".join(CLASSES), "False"]
    schema = load_suite_schema(gx_root / "gx/expectations/raw_dataset.json", "target")
    numeric = [f for f in schema.features if f.kind == "numeric"]
    assert [f.name for f in numeric] == [name for name in features if name != TEXT]
    assert all(f.minimum is not None and f.maximum is not None for f in numeric)
    assert schema.features[features.index(TEXT)].categories == sorted(clean_frame[TEXT].unique())


@pytest.mark.slow  # four `mlops` processes: infer twice, ingest, validate
def test_infer_reads_data_source_straight_after_params_are_edited(tmp_path):
    """README's step 4: no `dvc repro ingest` first; the suite fits the data as ingest will write it."""
    import yaml

    from tests.unit.conftest import MINIMAL_PARAMS

    (tmp_path / "data/source").mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "code": ["007", "012", None, "031"] * 10,
            "dose": [0.5, 1.5, 2.5, None] * 10,
            "churned": ["no", "yes", "no", "yes", "yes"] * 8,
        }
    )
    frame.to_parquet(tmp_path / "data/source/mine.parquet", index=False)
    params = {**MINIMAL_PARAMS, "data": {"source": "data/source/mine.parquet", "target": "churn"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    wrong = mlops("expectations", "infer", cwd=tmp_path)
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1
    assert wrong.stderr.startswith(
        "mlops expectations: error: target column 'churn' not found in data/source/mine.parquet; "
        "columns are: code, dose, churned. Set data.target in params.yaml"
    )
    assert not (tmp_path / "gx").exists()

    params["data"]["target"] = "churned"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    inferred = mlops("expectations", "infer", cwd=tmp_path)
    assert inferred.returncode == 0, inferred.stderr
    assert "columns of data/source/mine.parquet -> gx/expectations/raw_dataset.json" in inferred.stdout
    # ingest writes Parquet, which keeps "007" as text (CSV would read it back as the number 7).
    suite = json.loads((tmp_path / "gx/expectations/raw_dataset.json").read_text())["expectations"]
    types = {e["kwargs"]["column"]: e["kwargs"]["type_list"] for e in suite if "type_list" in e["kwargs"]}
    assert "object" in types["code"] and "float64" not in types["code"] and "float64" in types["dose"]
    ingested = mlops("ingest", cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    validated = mlops("validate", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr


def test_a_text_column_read_from_csv_passes_the_suite_inferred_from_it(tmp_path):
    """pandas 3 reads text as its `str` dtype; the type check must still see it as text."""
    from mlops.validation.checkpoint import validate_file
    from mlops.validation.context import open_context, save_suite
    from mlops.validation.expectations import infer_suite

    columns = {"size": factories.numeric(), "colour": factories.category(["red", "blue"])}
    frame = factories.table(300, 3, columns, lambda f, _: np.where(f["size"] > 0, "big", "small"), target="kind")
    frame.to_csv(tmp_path / "data.csv", index=False)
    read_back = pd.read_csv(tmp_path / "data.csv")
    save_suite(infer_suite(read_back, "kind"), "inferred from the file", tmp_path)
    result = validate_file(tmp_path / "data.csv", open_context(tmp_path))
    failed = [entry for entry in result["expectations"] if not entry["success"]]
    assert result["success"], failed
    assert any(e["column"] == "colour" and e["expectation"].endswith("in_type_list") for e in result["expectations"])
