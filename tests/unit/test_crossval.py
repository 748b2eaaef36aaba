"""Stage `crossval`: folds fixed by report.cv_seed and the rows alone; per-fold scores; the size cap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.config import Params
from mlops.dataset import row_keys
from mlops.errors import MlopsError
from mlops.pipeline.crossval import cross_validate, fold_plan, plan_id
from mlops.pipeline.prepare import prepare
from tests.unit.conftest import MINIMAL_PARAMS


def folds_by_row(frame, **settings):
    keys, labels = row_keys(frame), frame["churned"].to_numpy()
    _, plan = fold_plan(keys, labels, **{"folds": 5, "repeats": 2, "seed": 0, "max_rows": 10_000, **settings})
    return {(repeat, int(keys[row])): fold for repeat, fold, _, test in plan for row in test}


def test_folds_depend_on_the_rows_not_their_order(mixed_frame):
    shuffled = mixed_frame.sample(frac=1, random_state=3).reset_index(drop=True)
    assert folds_by_row(mixed_frame) == folds_by_row(shuffled)
    assert plan_id(row_keys(mixed_frame), 5, 2, 0, 10_000) == plan_id(row_keys(shuffled), 5, 2, 0, 10_000)


def test_the_cv_seed_and_the_rows_change_the_folds(mixed_frame):
    assert folds_by_row(mixed_frame) != folds_by_row(mixed_frame, seed=1)
    keys = row_keys(mixed_frame)
    assert plan_id(keys, 5, 2, 0, 10_000) != plan_id(keys[1:], 5, 2, 0, 10_000)


def test_every_row_is_tested_once_per_repeat_in_stratified_folds(mixed_frame):
    keys, labels = row_keys(mixed_frame), mixed_frame["churned"].to_numpy()
    used, plan = fold_plan(keys, labels, 4, 3, 0, 10_000)
    assert len(used) == len(mixed_frame) == len(np.unique(keys))
    for repeat in range(3):
        tested = np.concatenate([test for r, _, _, test in plan if r == repeat])
        assert sorted(tested) == list(range(len(mixed_frame)))
    share = (labels == "yes").mean()
    assert all(abs((labels[test] == "yes").mean() - share) < 0.05 for *_, test in plan)


def test_large_data_is_cross_validated_on_a_fixed_stratified_subsample(mixed_frame):
    keys, labels = row_keys(mixed_frame), mixed_frame["churned"].to_numpy()
    used, plan = fold_plan(keys, labels, 5, 1, 0, max_rows=120)
    assert len(used) == 120 and all(len(train) + len(test) == 120 for _, _, train, test in plan)
    assert abs((labels[used] == "yes").mean() - (labels == "yes").mean()) < 0.02
    reordered = np.random.default_rng(0).permutation(len(keys))
    again, _ = fold_plan(keys[reordered], labels[reordered], 5, 1, 0, max_rows=120)
    assert sorted(keys[used]) == sorted(keys[reordered][again])


def test_too_few_rows_in_a_class_is_a_clear_error(mixed_frame):
    labels = np.where(np.arange(len(mixed_frame)) < 3, "rare", "common")
    with pytest.raises(MlopsError, match=r"report.cv_folds is 5, but the smallest class has 3 rows"):
        fold_plan(row_keys(mixed_frame), labels, 5, 1, 0, 10_000)


def test_cross_validate_scores_every_metric_on_every_fold_with_the_models_seed(mixed_frame):
    train, test, schema = prepare(mixed_frame, "churned", 0.2, 0)
    frame = pd.concat([train, test], ignore_index=True)
    data = {"source": "data/source/x.csv", "target": "churned"}
    params = Params.model_validate({**MINIMAL_PARAMS, "data": data, "report": {"cv_folds": 3, "cv_repeats": 2}})
    scores, predictions = cross_validate(frame, schema, params)
    assert scores["fits"] == 6 and scores["rows"] == len(frame)
    assert all(len(values) == 6 for values in scores["metrics"].values())
    assert set(scores["metrics"]) >= {"accuracy", "f1", "log_loss"}
    assert len(predictions) == 2 * len(frame) and set(predictions["repeat"]) == {0, 1}
    again, _ = cross_validate(frame.iloc[::-1].reset_index(drop=True), schema, params)
    assert again["metrics"] == scores["metrics"] and again["plan"] == scores["plan"]  # order does not matter
