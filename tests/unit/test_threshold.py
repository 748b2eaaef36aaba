"""train.threshold: a binary model's decision threshold, set or chosen on cross-validation, is applied the
same way by scikit-learn, the model file, the ONNX service and the parity check, and reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import threshold as rule
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.io import load_model, save_model
from mlops.metrics import label_metrics
from mlops.pipeline.checks import decision
from mlops.pipeline.export import check_parity, onnx_inputs, to_onnx
from mlops.pipeline.prepare import prepare
from mlops.pipeline.train import fit
from mlops.serving.runtime import OnnxPredictor
from tests.unit.conftest import MINIMAL_PARAMS


def rare_positive(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A binary target whose positive class ("churned") is about one row in eight, with overlapping classes."""
    rng = np.random.default_rng(seed)
    churned = rng.random(rows) < 0.12
    tenure = rng.normal(np.where(churned, 10, 16), 5)
    plan = np.where(rng.random(rows) < np.where(churned, 0.6, 0.3), "basic", "pro")
    return pd.DataFrame({"tenure": tenure, "plan": plan, "status": np.where(churned, "churned", "stayed")})


@pytest.fixture(scope="module")
def split():
    return prepare(rare_positive(), "status", test_size=0.25, seed=0)


def fitted(split, threshold, metric="balanced_accuracy", class_weight="none"):
    train, _, schema = split
    return fit(train, schema, "random_forest", {"n_estimators": 30, "min_samples_leaf": 5}, 0, 1, class_weight,
               threshold, metric)  # fmt: skip


def test_choose_takes_the_best_threshold_and_on_a_tie_the_one_nearest_a_half():
    actual = np.array(["no"] * 6 + ["yes"] * 2)
    probability = np.array([0.05, 0.1, 0.1, 0.15, 0.2, 0.2, 0.3, 0.35])
    assert rule.choose(actual, probability, ["no", "yes"], "balanced_accuracy") == pytest.approx(0.3)
    # 0.4 and 0.9 each score a balanced accuracy of 0.75: the one nearer 0.5 wins
    tied = np.array([0.1, 0.6, 0.4, 0.9])
    assert rule.choose(np.array(["no", "no", "yes", "yes"]), tied, ["no", "yes"], "balanced_accuracy") == 0.4


def test_the_default_threshold_leaves_the_pipeline_as_fitted(split):
    model = fitted(split, 0.5)
    assert rule.pipeline_of(model) is model and rule.decision_of(model) is None


def test_a_set_threshold_predicts_the_positive_class_from_that_probability_on(split, tmp_path):
    _, test, schema = split
    features = schema.features_frame(test)
    model = fitted(split, 0.2)
    positive = model.predict_proba(features)[:, list(model.classes_).index("stayed")]
    assert list(model.predict(features)) == list(np.where(positive >= 0.2, "stayed", "churned"))
    assert rule.decision_of(model) == {"positive_class": "stayed", "threshold": 0.2}
    save_model(model, tmp_path / "model.skops")  # the model file holds no type beyond the trusted ones
    again = load_model(tmp_path / "model.skops")
    assert list(again.predict(features)) == list(model.predict(features))


def test_cv_chooses_on_held_out_rows_a_threshold_no_worse_than_a_half(split):
    train, _, schema = split
    model = fitted(split, "cv")
    chosen = rule.decision_of(model)["threshold"]
    assert chosen != 0.5
    features, target = schema.features_frame(train), schema.target_series(train)
    refit = lambda rows: fitted((train.iloc[rows], None, schema), 0.5)  # noqa: E731
    probability = rule.out_of_fold(refit, features, target, seed=0)
    classes = ["churned", "stayed"]

    def score(threshold):
        predicted = np.where(probability >= threshold, "stayed", "churned")
        return label_metrics(target.to_numpy(), predicted, classes, names=("balanced_accuracy",))["balanced_accuracy"]

    assert score(chosen) >= score(0.5)
    assert rule.described(model, "cv", "balanced_accuracy")["chosen"] == (
        "chosen on cross-validation, maximising balanced_accuracy"
    )


def test_onnx_serving_applies_the_threshold_and_the_parity_check_agrees(split):
    _, test, schema = split
    features = schema.features_frame(test)
    model = fitted(split, 0.2)
    onnx_model = to_onnx(rule.pipeline_of(model), schema)
    metadata = {
        "task": "classification",
        "inputs": onnx_inputs(onnx_model, schema),
        "classes": ["churned", "stayed"],
        "decision": rule.decision_of(model),
    }
    labels, _ = OnnxPredictor(onnx_model.SerializeToString(), metadata).predict(
        {name: features[name].tolist() for name in features.columns}
    )
    assert labels == [str(label) for label in model.predict(features)]
    assert labels != [str(label) for label in rule.pipeline_of(model).predict(features)]  # the threshold mattered
    params = Params.model_validate(MINIMAL_PARAMS)
    _, failed, summary = check_parity(model, OnnxPredictor(onnx_model.SerializeToString(), metadata), features,
                                      schema, params)  # fmt: skip
    assert not failed, summary
    # the same graph without the decision in its metadata predicts differently: the check sees it
    _, failed, _ = check_parity(model, OnnxPredictor(onnx_model.SerializeToString(), metadata | {"decision": None}),
                                features, schema, params)  # fmt: skip
    assert failed


def test_the_checks_report_the_threshold_and_how_it_was_chosen():
    chosen = {"positive_class": "yes", "threshold": 0.31, "chosen": "train.threshold"}
    assert decision(["no", "yes"], chosen)["rule"] == "yes when P(yes) >= 0.31 (train.threshold)"
    assert decision(["no", "yes"])["rule"] == "yes when P(yes) > 0.5"


def test_a_threshold_on_three_classes_is_one_line_saying_what_to_set(iris_frame):
    train, _, schema = prepare(iris_frame, "target", test_size=0.2, seed=0)
    with pytest.raises(MlopsError, match=r"train.threshold applies to two classes and target has 3: set it to 0.5"):
        fit(train, schema, "random_forest", {"n_estimators": 5}, 0, 1, "none", "cv")


def test_params_take_a_threshold_between_0_and_1_or_cv_and_a_label_metric():
    for value in (0.3, "cv"):
        params = Params.model_validate(MINIMAL_PARAMS | {"train": MINIMAL_PARAMS["train"] | {"threshold": value}})
        assert params.train.threshold == value
    for wrong in ({"threshold": 1.5}, {"threshold": "auto"}, {"threshold_metric": "roc_auc"}):
        with pytest.raises(ValueError):
            Params.model_validate(MINIMAL_PARAMS | {"train": MINIMAL_PARAMS["train"] | wrong})
