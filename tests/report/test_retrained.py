"""The report on a retraining pull request: main's model and this PR's, scored on rows neither trained on.

Two real projects (prepare, train, ONNX export) on synthetic data: main's, and a PR's whose data
is main's plus fresh labelled rows from a region main never saw, labelled by another rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops import paths
from mlops.io import write_json, write_table
from mlops.report import judge, markdown, retrained
from mlops.report.runs import dir_reader, load_run
from tests import factories
from tests.report.synthetic import SETTINGS as REPORT
from tests.serving.conftest import TARGET, build_project

VERSION = "data/source/data-20261128T120000Z.csv"
SETTINGS = REPORT.model_copy(update={"metric": "accuracy"})  # the one metric build_project writes


def fresh_rows(rows: int = 200, seed: int = 7) -> pd.DataFrame:
    """Rows whose `size` main's data never reaches (over 25), labelled by weight alone."""
    frame = factories.classification(rows, seed)
    frame["size"] = np.random.default_rng(seed).uniform(26, 40, rows)
    frame[TARGET] = np.where(frame["weight"].fillna(50) < 50, "low", "mid")
    return frame


def write_params(root, source: str) -> None:
    (root / paths.PARAMS).write_text(yaml.safe_dump({"data": {"source": source, "target": TARGET}}))


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    original, fresh = factories.classification(), fresh_rows()
    assert original["size"].max() < 25
    main = tmp_path_factory.mktemp("main")
    build_project(main, data=original)
    write_params(main, "data/source/data.csv")
    pr = tmp_path_factory.mktemp("pr")
    data = pd.concat([original, fresh], ignore_index=True)
    write_table(data, pr / VERSION)
    build_project(pr, data=data)
    write_params(pr, VERSION)
    write_json(
        pr / paths.RETRAIN_REPORT,
        {
            "source": VERSION,
            "previous_source": "data/source/data.csv",
            "rows": {"previous": len(original), "total": len(data)},
            "production_rows": {"added": len(fresh)},
        },
    )
    return main, pr, fresh


def runs(main, pr):
    return load_run(dir_reader(pr), "this PR", root=pr), load_run(dir_reader(main), "main@abc1234", root=main)


def test_both_models_score_the_fresh_rows_in_this_prs_test_split(projects):
    main, pr, fresh = projects
    result = retrained.compare_retrained(*runs(main, pr), SETTINGS)
    assert not result.missing
    held = result.sets[0]
    assert held.name == "fresh labelled rows"
    pr_test = pd.read_parquet(pr / paths.TEST)
    assert held.rows == int((pr_test["size"] > 25).sum()) > 0
    assert held.offered == len(fresh)
    old, new = held.scores["accuracy"]
    assert new - old > 0.5  # main's model never saw this region; this PR's learned it
    assert held.test.paired and held.test.intervals["accuracy"].low > 0


def test_main_test_rows_that_trained_this_prs_model_are_left_out(projects):
    main, pr, _ = projects
    held = retrained.compare_retrained(*runs(main, pr), SETTINGS).sets[1]
    main_test, pr_train = pd.read_parquet(main / paths.TEST), pd.read_parquet(pr / paths.TRAIN)
    trained = main_test.merge(pr_train.drop_duplicates(), how="inner", on=list(main_test.columns))
    assert held.name == "main@abc1234's test split"
    assert held.offered == len(main_test)
    assert held.rows == len(main_test) - len(trained) > 0


def test_the_comment_shows_both_sets(projects):
    main, pr, _ = projects
    pr_run, base = runs(main, pr)
    comparison = judge.compare(pr_run, base, SETTINGS)
    comparison.retrained = retrained.compare_retrained(pr_run, base, SETTINGS)
    text = markdown.render(comparison, {})
    section = text.split("### Retrained on production rows")[1].split("###")[0]
    assert f"`{VERSION}`" in section and "200 labelled production rows" in section
    fresh, main_split = comparison.retrained.sets
    assert f"**On fresh labelled rows**: {fresh.rows} of 200 rows" in section
    assert f"**On main@abc1234's test split**: {main_split.rows} of {main_split.offered} rows" in section
    assert "| **accuracy** |" in section


def test_no_section_once_main_trains_on_the_same_version(projects):
    main, pr, _ = projects
    pr_run, base = runs(main, pr)
    base.params = pr_run.params  # the retraining PR merged: main's data is this version
    assert retrained.compare_retrained(pr_run, base, SETTINGS) is None
    pr_run.params = {"data": {"source": "data/source/other.csv"}}  # a later PR on other data
    assert retrained.compare_retrained(pr_run, runs(main, pr)[1], SETTINGS) is None


def test_says_why_when_mains_model_is_not_at_hand(projects, tmp_path):
    main, pr, _ = projects
    pr_run, base = runs(main, pr)
    base.root = tmp_path  # metrics committed in git, no training artifact
    result = retrained.compare_retrained(pr_run, base, SETTINGS)
    assert result.sets == [] and "not at hand" in result.missing
    comparison = judge.compare(pr_run, None, SETTINGS)
    comparison.base, comparison.retrained = base, result
    assert "Not compared: main@abc1234's model and test split are not at hand" in markdown.retrained_section(comparison)
