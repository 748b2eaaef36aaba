"""`mlops expectations infer` says what it saw in each column, writes the roles into params.yaml, and its
suite accepts the next batch of the same source."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from mlops.config import load_params
from mlops.schema import schema_from_suite
from mlops.validation.expectations import NEW_CATEGORY_SHARE, infer_suite
from mlops.validation.roles import Finding, find_roles, roles_of, write_roles
from tests.churn import CITY, DATE, ID, TARGET, churn, later
from tests.unit.conftest import MINIMAL_PARAMS


@pytest.fixture(scope="module")
def frame():
    data = churn(800)
    rng = np.random.default_rng(3)
    return data.assign(
        region="EU",  # constant
        refund=np.where(data[TARGET] == "Yes", rng.uniform(10, 20, len(data)), 0.0).round(2),  # a leak
    )


@pytest.fixture(scope="module")
def findings(frame):
    return {finding.column: finding for finding in find_roles(frame, TARGET)}


def test_an_id_is_found_by_being_unique_in_every_row(findings, frame):
    assert findings[ID].role == "ids"
    assert findings[ID].line() == f"columns.ids: 'customer id' looks like an id (unique in each of {len(frame)} rows)"


def test_a_date_is_found_with_its_format(findings, frame):
    assert (findings[DATE].role, findings[DATE].value) == ("dates", "%Y-%m-%d")
    assert f"holds dates ({frame[DATE].min()} to {frame[DATE].max()})" in findings[DATE].why


def test_a_constant_is_dropped(findings):
    assert findings["region"].role == "drop" and findings["region"].why.startswith("is constant ('EU' in every row)")


def test_a_category_with_too_many_values_keeps_the_most_frequent(findings, frame):
    assert (findings[CITY].role, findings[CITY].value) == ("max_categories", 30)
    assert f"has {frame[CITY].nunique()} values" in findings[CITY].why


def test_a_feature_that_alone_predicts_the_target_is_called_a_leak(findings):
    assert findings["refund"].role == "drop"
    assert "alone predicts 'Churn' (balanced accuracy 1.000): a leak?" in findings["refund"].why


def test_ordinary_features_and_columns_with_a_role_are_left_alone(findings, frame):
    assert set(findings) == {ID, DATE, CITY, "region", "refund"}
    assert ID not in {f.column for f in find_roles(frame, TARGET, known={ID: "ids"})}


def test_nothing_is_said_of_the_example_project_data():
    from mlops.dataset import load_bundled

    for name in ("breast_cancer", "wine", "iris"):
        assert find_roles(load_bundled(name, "target"), "target") == []
    assert find_roles(load_bundled("diabetes", "target"), "target", "regression") == []


def test_whole_numbers_unique_per_row_are_an_id_only_when_named_or_numbered_densely():
    rng = np.random.default_rng(0)
    data = churn(300).assign(sales=rng.choice(100_000, 300, replace=False))  # a unique measurement
    found = {f.column: f.role for f in find_roles(data, TARGET)}
    assert found.get(ID) == "ids" and "sales" not in found
    renamed = data.rename(columns={ID: "n"}).assign(n=rng.choice(10**9, 300, replace=False))
    assert "n" not in {f.column for f in find_roles(renamed, TARGET)}


def test_an_id_that_repeats_is_dropped_as_numbering_something_else_and_free_text_is_dropped():
    """The raw penguins export: a bird's id repeats across seasons, the sample number restarts with each
    species, and the comments are sentences. None is a row id; none is a feature that carries over."""
    from tests import penguins

    found = {f.column: f for f in find_roles(penguins.penguins(), penguins.TARGET)}
    for name in (penguins.ID, "Sample Number"):
        assert found[name].role == "drop" and "named like an id" in found[name].why, found[name]
        assert "some in several rows: it numbers something other than the row" in found[name].why
    assert found["Comments"].role == "drop" and found["Comments"].why.startswith("holds free text (")
    assert {f.column for f in found.values() if f.role == "drop"} == {
        penguins.ID,
        "Sample Number",
        "Comments",
        "Region",
        "Stage",
    }
    assert found[penguins.DATE].role == "dates" and "Island" not in found and "Sex" not in found


def test_a_repeated_count_or_a_short_category_is_neither_an_id_nor_free_text():
    rng = np.random.default_rng(0)
    data = churn(600).assign(
        **{
            "number of visits": rng.integers(0, 400, 600),  # named like an id, repeats, but not dense numbering
            "order no": rng.integers(1, 30, 600),  # dense, but too few values to number anything
            "plan name": rng.choice(["Basic plan", "Plus plan with TV"], 600),  # words, but under the median
            "ticket no": [None if index % 10 == 0 else f"T{index}" for index in range(600)],  # no repeat, some gaps
        }
    )
    found = {f.column: f for f in find_roles(data, TARGET)}
    assert not set(found) & {"number of visits", "order no", "plan name"}
    assert found["ticket no"].role == "max_categories"  # gaps are no repeats: not called an id of something else


PARAMS_TEXT = """# my project
seed: 7   # my seed
data:
  source: data/source/churn.csv   # from the CRM
  target: Churn
columns:
  ids: []                         # the ids note
  drop:                           # the drop note
    - notes                       # free text, reviewed by me
  dates: {}
  max_categories: {}

prepare:
  test_size: 0.2                  # my split
"""


def test_roles_are_written_with_a_comment_each_and_every_other_line_kept(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS_TEXT)
    params = params_of(path)
    findings = [
        Finding(ID, "ids", None, "looks like an id"),
        Finding(DATE, "dates", "%Y-%m-%d", "holds dates"),
        Finding("Monthly charge (€): net", "max_categories", 30, "has 90 values"),
    ]
    roles = roles_of(params.columns)
    for finding in findings:
        roles[finding.role][finding.column] = finding.value
    write_roles(path, roles, {(f.role, f.column): f.why for f in findings})
    text = path.read_text()
    assert text.startswith(
        "# my project\nseed: 7   # my seed\ndata:\n  source: data/source/churn.csv   # from the CRM\n"
    )
    assert text.endswith("\nprepare:\n  test_size: 0.2                  # my split\n")
    lines = text.splitlines()
    assert '    - "customer id"               # looks like an id' in lines
    assert '    - "notes"                     # free text, reviewed by me' in lines  # the reviewed comment stays
    assert "  ids:                            # the ids note" in lines
    assert '    "signup date": "%Y-%m-%d"     # holds dates' in lines
    columns = yaml.safe_load(text)["columns"]
    assert columns == {
        "ids": [ID],
        "drop": ["notes"],
        "dates": {DATE: "%Y-%m-%d"},
        "max_categories": {"Monthly charge (€): net": 30},
    }


def test_a_params_file_without_a_columns_section_gets_one_after_data(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(PARAMS_TEXT.replace(PARAMS_TEXT[PARAMS_TEXT.index("columns:") : PARAMS_TEXT.index("prepare:")], ""))
    write_roles(path, {"ids": {ID: None}, "drop": {}, "dates": {}, "max_categories": {}}, {})
    loaded = yaml.safe_load(path.read_text())
    assert list(loaded) == ["seed", "data", "columns", "prepare"] and loaded["columns"]["ids"] == [ID]


def params_of(path):
    """The parameters of a params.yaml holding only some sections (the others from MINIMAL_PARAMS)."""
    from mlops.config import Params

    return Params.model_validate({**MINIMAL_PARAMS, **yaml.safe_load(path.read_text())})


def test_the_suite_checks_ids_and_dates_without_ranges_and_leaves_category_sets_open(frame):
    roles = _roles(frame)
    suite = infer_suite(frame, TARGET, task="classification", roles=roles)
    on = {}
    for item in suite:
        on.setdefault(item["kwargs"].get("column"), []).append(item)
    assert [e["type"] for e in on[ID]] == ["expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"]
    window = next(e for e in on[DATE] if e["type"] == "expect_column_values_to_match_regex")["kwargs"]["regex"]
    first, last = int(frame[DATE].min()[:4]), int(frame[DATE].max()[:4])
    assert re.match(window, f"{first - 5}-01-01") and re.match(window, f"{last + 5}-12-31")
    assert not re.match(window, f"{first - 6}-12-31") and not re.match(window, f"{last + 6}-01-01")
    assert not re.match(window, f"{last}-01-01 10:00")
    assert any(e["type"] == "expect_column_values_to_match_strftime_format" for e in on[DATE])
    (city_set,) = [e for e in on[CITY] if e["type"] == "expect_column_values_to_be_in_set"]
    assert city_set["kwargs"]["mostly"] == 1 - NEW_CATEGORY_SHARE
    assert "region" not in on  # dropped: named in the column set only
    schema = schema_from_suite({"expectations": suite}, TARGET)
    city = next(f for f in schema.features if f.name == CITY)
    assert city.categories == sorted(frame[CITY].dropna().unique())  # the known values, though the set is open


def _roles(frame):
    from mlops.config import ColumnsParams

    found = find_roles(frame, TARGET)
    roles = roles_of(ColumnsParams())
    for finding in found:
        roles[finding.role][finding.column] = finding.value
    return ColumnsParams(
        ids=list(roles["ids"]), drop=list(roles["drop"]), dates=roles["dates"], max_categories=roles["max_categories"]
    )


@pytest.mark.slow
def test_infer_prints_each_finding_and_next_months_batch_passes_validate(tmp_path, frame):
    data = frame.drop(columns=["refund"])
    data.to_csv(tmp_path / "churn.csv", index=False)
    params = {**MINIMAL_PARAMS, "data": {"source": "churn.csv", "target": TARGET}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    run = [sys.executable, "-m", "mlops"]
    inferred = subprocess.run([*run, "expectations", "infer"], cwd=tmp_path, capture_output=True, text=True)
    assert inferred.returncode == 0, inferred.stderr
    printed = [line for line in inferred.stdout.splitlines() if line.startswith("expectations: columns.")]
    assert [line.split(":")[1].strip() for line in printed] == [
        "columns.ids",
        "columns.dates",
        "columns.max_categories",
        "columns.drop",
    ]
    assert load_params(tmp_path / "params.yaml").columns.ids == [ID]
    later(data, 500).assign(region="EU").to_csv(tmp_path / "next.csv", index=False)
    checked = subprocess.run([*run, "validate", "--data", "next.csv"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
