"""Your data against your suite: the suite passes on the data, and catches every corruption derived from it.

The corruption matrix (tests/corruption.py) is generated from the committed suite,
gx/expectations/raw_dataset.json: each column dropped, renamed, retyped, pushed out of its
range or set of values, nulled; a class target given an unseen label or a single class; the
columns reordered or one added; the rows removed. Each must fail the expectation the suite
has for it, so a suite loosened until it lets bad data through fails here. Good data
passes: the data itself, shuffled, and random 80% samples.

The cost stays flat in the number of columns: a corruption is validated against only the
expectations it must break, and drops and renames go through Great Expectations for a seeded
sample of columns (the target always), while the suite's column set is checked for every column.
"""

from __future__ import annotations

import pytest

from mlops import paths
from mlops.io import read_json
from tests.conftest import REPO_ROOT
from tests.corruption import Suite, corruptions, failures, missed

DROPPED_COLUMNS = 5  # columns dropped and renamed through Great Expectations, besides the target


@pytest.fixture(scope="session")
def suite() -> Suite:
    return Suite(read_json(REPO_ROOT / paths.SUITE)["expectations"])


@pytest.fixture(scope="session")
def context(tmp_path_factory):
    """A copy of the committed gx/ (results land in the copy, not the repository)."""
    import shutil

    from mlops.validation.context import open_context

    root = tmp_path_factory.mktemp("gx")
    shutil.copytree(REPO_ROOT / paths.GX_DIR, root / paths.GX_DIR, ignore=shutil.ignore_patterns("uncommitted"))
    return open_context(root)


@pytest.fixture(scope="session")
def clean(raw, tmp_path_factory):
    """The data as the validate stage reads it: written by ingest, read back."""
    from mlops.io import read_table, write_table

    path = tmp_path_factory.mktemp("raw") / paths.RAW.name
    write_table(raw, path)
    return read_table(path)


@pytest.fixture
def validate(context, tmp_path):
    from mlops.validation.checkpoint import validate_file

    def run(frame):
        path = tmp_path / "batch.csv"
        frame.to_csv(path, index=False)
        return validate_file(path, context)

    return run


def test_the_suite_is_for_this_data(raw, params, suite):
    assert [str(name) for name in raw.columns] == suite.columns, "the suite is for other data: rerun infer"
    if params.data.task == "regression":
        assert params.data.target in suite.ranges, "the suite does not bound the (numeric) target's range"
    else:
        assert params.data.target in suite.value_sets, "the suite does not list the target's classes"


@pytest.mark.parametrize("sample", ["as is", "shuffled", "80% sample 0", "80% sample 1", "80% sample 2"])
def test_good_data_passes(sample, clean, validate):
    if sample == "as is":
        frame = clean
    elif sample == "shuffled":
        frame = clean.sample(frac=1.0, random_state=7)
    else:
        frame = clean.sample(frac=0.8, random_state=int(sample.split()[-1]))
    result = validate(frame)
    assert result["success"], failures(result)


def test_every_corruption_fails_the_expectation_for_it(suite, clean, context, params):
    import random

    target = params.data.target
    others = [column for column in suite.columns if column != target]
    columns = [target, *random.Random(0).sample(others, min(DROPPED_COLUMNS, len(others)))]
    cases = list(corruptions(suite, clean, target, columns=columns))
    kinds = {case.name.split()[-1] for case in cases}
    expected = {"dropped", "renamed", "nulled", "retyped", "set", "reordered", "added"}
    if params.data.task == "classification":
        expected |= {"class", "only"}  # an unseen class, a single class
    assert expected <= kinds
    slipped = missed(context, suite, cases)
    assert not slipped, f"corruptions the suite let through: {slipped}"


def test_every_column_is_required_by_name(suite):
    """Dropping or renaming any column fails the column-set expectation (shown through GX for a sample above)."""
    kwargs = suite.table("expect_table_columns_to_match_set")
    assert kwargs is not None, "the suite does not check the set of columns"
    assert sorted(kwargs["column_set"]) == sorted(suite.columns)
    assert kwargs.get("exact_match", True) is not False, "the column set allows missing or extra columns"
