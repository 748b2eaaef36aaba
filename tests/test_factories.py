"""tests/factories.py keeps the promises the tests that use it rely on."""

import inspect

import numpy as np
import pandas as pd

from tests import factories


def test_the_module_docstring_names_every_generator():
    public = [
        name
        for name, value in vars(factories).items()
        if inspect.isfunction(value) and value.__module__ == factories.__name__ and not name.startswith("_")
    ]
    assert len(public) > 10, public
    assert [name for name in public if f"`{name}" not in factories.__doc__] == []


def test_unrelated_columns_leave_every_other_value_as_it_was():
    columns = {"x": factories.numeric(decimals=3, missing=0.1), "c": factories.category(["a", "b"], missing=0.1)}
    rule = factories.drawn_labels(["no", "yes"])
    alone = factories.table(50, 4, columns, rule)
    wider = factories.table(
        50, 4, columns, rule, unrelated={"u": factories.integers(0, 9), "v": factories.gamma(2, 1, missing=0.2)}
    )
    assert list(wider) == ["x", "c", "u", "v", "label"]
    pd.testing.assert_frame_equal(wider[list(alone)], alone)
    assert alone["x"].isna().any() and alone["c"].isna().any() and wider["v"].isna().any()


def test_a_shift_moves_a_column_by_standard_deviations_and_the_rule_sees_it():
    base, moved = factories.noiseless(2000, 1), factories.noiseless(2000, 1, shift=1.0)
    assert (moved["load"] - base["load"]).round(3).eq(1.0).all()
    assert (moved[factories.NOISELESS_TARGET] == factories.noiseless_truth(moved)).all()
    assert (moved[factories.NOISELESS_TARGET] == "up").mean() > (base[factories.NOISELESS_TARGET] == "up").mean() + 0.2


def test_the_same_seed_gives_the_same_frame_and_another_seed_another():
    pd.testing.assert_frame_equal(factories.classification(), factories.classification())
    assert not factories.classification(seed=1).equals(factories.classification())
    assert set(factories.classification()["label"]) == {"low", "mid", "high"}
    assert factories.regression()["label"].dtype == np.float64


def test_scores_are_probabilities_and_skill_makes_the_actual_class_likelier():
    actual, guesses = factories.scores(3, 500, 0)
    _, skilled = factories.scores(3, 500, 0, skill=1.0)
    assert np.allclose(guesses.sum(axis=1), 1) and np.allclose(skilled.sum(axis=1), 1)
    assert (skilled.argmax(axis=1) == actual).mean() > (guesses.argmax(axis=1) == actual).mean() + 0.2
