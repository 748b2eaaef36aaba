"""The `checks` stage: a model is held to beating the trivial baseline on the same folds, to predicting
every class, and to the floors params.yaml sets; a failure writes reports/checks.json, prints one line
per failed check with what to change, and exits non-zero (so `dvc repro` stops before export)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import yaml

from mlops import paths
from mlops.config import ChecksParams
from mlops.pipeline.checks import Fold, baseline_fold, crossval_folds, judge
from tests.unit.conftest import MINIMAL_PARAMS

CLASSES = ["no", "yes"]


def folds_of(predict, rows: int = 200, share_yes: float = 0.2, count: int = 4, seed: int = 0) -> list[Fold]:
    """`count` folds of a binary target with `share_yes` of "yes"; `predict(actual, rng)` gives the labels."""
    rng = np.random.default_rng(seed)
    folds = []
    for _ in range(count):
        train = np.where(rng.random(rows) < share_yes, "yes", "no")
        actual = np.where(rng.random(rows) < share_yes, "yes", "no")
        predicted = predict(actual, rng)
        proba = np.column_stack([predicted == "no", predicted == "yes"]).astype(float) * 0.8 + 0.1
        folds.append(Fold(train, actual, predicted, proba))
    return folds


def always_no(actual, rng):
    return np.full(len(actual), "no")


def mostly_right(actual, rng):
    flip = rng.random(len(actual)) < 0.1
    return np.where(flip, np.where(actual == "yes", "no", "yes"), actual)


def failed(result: dict) -> dict[str, dict]:
    return {check["name"]: check for check in result["checks"] if not check["passed"]}


def test_the_baseline_is_the_training_rows_majority_with_their_shares_and_their_mean_for_regression():
    fold = Fold(np.array(["no", "no", "no", "yes"]), np.array(["yes", "no"]), np.array(["yes", "no"]))
    predicted, proba = baseline_fold(fold, CLASSES)
    assert list(predicted) == ["no", "no"]
    np.testing.assert_allclose(proba, [[0.75, 0.25], [0.75, 0.25]])
    numbers = Fold(np.array([1.0, 2.0, 6.0]), np.array([0.0, 9.0]), np.array([1.0, 2.0]))
    predicted, proba = baseline_fold(numbers, None)
    assert list(predicted) == [3.0, 3.0] and proba is None


def test_a_majority_class_model_fails_both_default_checks_saying_what_to_change():
    result = judge(folds_of(always_no), CLASSES, ChecksParams(), "balanced_accuracy")
    assert not result["passed"]
    assert result["model"]["balanced_accuracy"] == result["baseline"]["balanced_accuracy"] == 0.5
    problems = failed(result)
    assert set(problems) == {"beats the baseline", "every class predicted"}
    assert "needed 0.5100" in problems["beats the baseline"]["detail"]
    for check in problems.values():
        assert "train.class_weight: balanced" in check["fix"]
    assert "never predicted right: yes" in problems["every class predicted"]["detail"]
    assert "checks.every_class_predicted: false" in problems["every class predicted"]["fix"]


def test_accuracy_as_the_primary_metric_lets_the_majority_model_through_the_baseline_but_not_the_recall_check():
    """The baseline check alone is fooled by accuracy on a rare class (both score the majority's share);
    the recall check still catches the model, which is why both are on by default."""
    result = judge(folds_of(always_no), CLASSES, ChecksParams(baseline_margin=0.0), "accuracy")
    assert set(failed(result)) == {"every class predicted"}


def test_a_good_model_passes_and_the_floors_apply_only_when_set():
    folds = folds_of(mostly_right)
    passed = judge(folds, CLASSES, ChecksParams(), "balanced_accuracy")
    assert passed["passed"] and [check["name"] for check in passed["checks"]] == [
        "beats the baseline",
        "every class predicted",
    ]
    strict = judge(folds, CLASSES, ChecksParams(min_class_recall=0.95), "balanced_accuracy")
    (floor,) = failed(strict).values()
    assert floor["name"] == "class recall floor" and "checks.min_class_recall 0.95" in floor["detail"]
    assert "lower checks.min_class_recall" in floor["fix"]
    off = judge(folds_of(always_no), CLASSES, ChecksParams(beat_baseline=False, every_class_predicted=False), "f1")
    assert off["passed"] and off["checks"] == []


def test_an_error_metric_must_fall_below_the_baseline_by_a_fraction_of_it():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 100))
    good = [Fold(rng.normal(size=300), row, row + rng.normal(scale=0.3, size=100)) for row in x]
    result = judge(good, None, ChecksParams(baseline_margin=0.5), "rmse")
    assert result["passed"] and result["model"]["rmse"] <= 0.5 * result["baseline"]["rmse"]
    assert "50% below" in result["checks"][0]["detail"]
    too_strict = judge(good, None, ChecksParams(baseline_margin=0.9), "rmse")
    assert set(failed(too_strict)) == {"beats the baseline"}
    floor = judge(good, None, ChecksParams(min_r2=0.99), "rmse")
    assert failed(floor)["R² floor"]["fix"].endswith("lower checks.min_r2 in params.yaml")


def test_the_crossval_folds_train_on_the_other_folds_of_the_same_repeat():
    predictions = pd.DataFrame(
        {
            "repeat": [0, 0, 0, 1, 1, 1],
            "fold": [0, 1, 1, 0, 0, 1],
            "actual": ["a", "b", "b", "a", "b", "a"],
            "predicted": ["a", "a", "b", "a", "b", "b"],
            "proba_a": [0.9, 0.6, 0.2, 0.8, 0.3, 0.4],
            "proba_b": [0.1, 0.4, 0.8, 0.2, 0.7, 0.6],
        }
    )
    folds = crossval_folds(predictions, ["a", "b"])
    assert [list(fold.train_target) for fold in folds] == [["b", "b"], ["a"], ["a"], ["a", "b"]]
    assert [list(fold.actual) for fold in folds] == [["a"], ["b", "b"], ["a", "b"], ["a"]]
    np.testing.assert_allclose(folds[1].proba, [[0.6, 0.4], [0.2, 0.8]])


# ---------------------------------------------------------------- the stage, as `dvc repro` runs it


def stage_files(root, predict) -> None:
    """What the checks stage reads: the schema, crossval's out-of-fold predictions, evaluate's metrics."""
    params = {**MINIMAL_PARAMS, "data": {"source": "d.csv", "target": "label"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    schema = {"target": "label", "task": "classification", "classes": CLASSES, "features": []}  # no feature needed
    (root / paths.SCHEMA).parent.mkdir(parents=True)
    (root / paths.SCHEMA).write_text(json.dumps(schema))
    blocks = []
    for index, fold in enumerate(folds_of(predict, rows=60, count=2)):
        block = pd.DataFrame({"repeat": 0, "fold": index, "actual": fold.actual, "predicted": fold.predicted})
        blocks.append(block.assign(proba_no=fold.proba[:, 0], proba_yes=fold.proba[:, 1]))
    (root / paths.CV_PREDICTIONS).parent.mkdir(parents=True)
    pd.concat(blocks).to_parquet(root / paths.CV_PREDICTIONS)
    (root / paths.METRICS).write_text(json.dumps({"balanced_accuracy": 0.5}))


def mlops(root, *args):
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=root, capture_output=True, text=True, timeout=120)


def test_a_failing_model_writes_its_checks_then_stops_with_one_line_per_failed_check(tmp_path):
    stage_files(tmp_path, always_no)
    done = mlops(tmp_path, "checks")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines[:-1]] == [
        "FAILED beats the baseline",
        "FAILED every class predicted",
    ]
    assert all("train.class_weight: balanced" in line for line in lines[:-1])
    assert lines[-1].startswith("mlops checks: error: the model failed 2 of 2 checks")
    assert "Traceback" not in done.stderr
    result = json.loads((tmp_path / paths.CHECKS).read_text())
    assert result["passed"] is False and result["decision"]["threshold"] == 0.5
    assert "decision: yes when P(yes) > 0.5" in done.stdout
    again = mlops(tmp_path, "checks", "--show")  # what train.yml and publish.yml ask of a finished run
    assert again.returncode == 1 and again.stderr.splitlines()[:-1] == lines[:-1]


def test_a_passing_model_leads_with_the_primary_metric_against_the_baseline(tmp_path):
    stage_files(tmp_path, mostly_right)
    done = mlops(tmp_path, "checks")
    assert done.returncode == 0, done.stderr
    first, decision, verdict = done.stdout.splitlines()
    assert first.startswith("balanced_accuracy (primary metric): 0.")
    assert "0.5000 on the test split; trivial baseline (the majority class, with the class shares) 0.5000" in first
    assert decision == "decision: yes when P(yes) > 0.5"
    assert verdict == f"all 2 checks passed ({paths.CHECKS}): beats the baseline, every class predicted"
    shown = mlops(tmp_path, "checks", "--show")
    assert shown.returncode == 0 and shown.stdout == done.stdout


def test_show_without_a_run_says_what_to_do(tmp_path):
    stage_files(tmp_path, mostly_right)
    with contextlib.suppress(FileNotFoundError):
        (tmp_path / paths.CHECKS).unlink()
    done = mlops(tmp_path, "checks", "--show")
    assert done.returncode == 1
    assert done.stderr == f"mlops checks: error: {paths.CHECKS} not found: run the pipeline first (make run)\n"


def test_class_weight_is_one_parameter_that_reaches_the_fit():
    """train.class_weight: balanced fits with each class weighing the same in total; none, every row alike."""
    from sklearn.datasets import make_classification

    from mlops.pipeline.train import fit
    from mlops.schema import Feature, Schema

    x, y = make_classification(n_samples=400, n_features=4, weights=[0.9], random_state=0, flip_y=0.1)
    frame = pd.DataFrame(x, columns=list("abcd")).assign(label=np.where(y == 1, "rare", "common"))
    schema = Schema([Feature(name, "numeric") for name in "abcd"], "label", ["common", "rare"])
    rare = {}
    for weight in ("balanced", "none"):
        model = fit(frame, schema, "logistic_regression", {}, seed=0, class_weight=weight)
        rare[weight] = float((model.predict(schema.features_frame(frame)) == "rare").mean())
    assert rare["balanced"] > rare["none"] + 0.05, rare  # weighted, the rare class is predicted far more often
