import pytest
import yaml

from mlops.config import flatten, load_params
from mlops.errors import MlopsError
from mlops.io import load_model, save_model, write_json
from tests.unit.conftest import MINIMAL_PARAMS as PARAMS


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"f1": 0.9})
    with pytest.raises(TypeError):
        write_json(target, {"f1": object()})
    assert target.read_text() == '{\n  "f1": 0.9\n}\n'
    assert [path.name for path in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left behind


def test_written_files_get_the_usual_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        write_json(tmp_path / "shared.json", {})
    finally:
        os.umask(mask)
    assert (tmp_path / "shared.json").stat().st_mode & 0o777 == 0o644  # readable by a service running as another user


def test_model_files_with_foreign_types_are_refused(tmp_path):
    from collections import OrderedDict  # trusted

    import skops.io as sio

    save_model(OrderedDict(a=1), tmp_path / "ok.skops")
    assert load_model(tmp_path / "ok.skops") == OrderedDict(a=1)
    sio.dump({"f": pytest.approx}, tmp_path / "bad.skops")  # a function from outside the allowed libraries
    with pytest.raises(MlopsError, match="not a model.s"):
        load_model(tmp_path / "bad.skops")
    (tmp_path / "broken.skops").write_bytes(b"not a zip file")
    with pytest.raises(MlopsError, match="could not be loaded"):
        load_model(tmp_path / "broken.skops")


def write_params(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_params_load(tmp_path):
    params = load_params(write_params(tmp_path, PARAMS))
    assert params.train.hyperparameters == {"n_estimators": 10}
    assert params.n_jobs == -1  # all cores unless params.yaml says otherwise
    assert flatten(params.model_dump(include={"train"})) == {
        "train.estimator": "random_forest",
        "train.hyperparameters.n_estimators": 10,
        "train.class_weight": "balanced",  # the default: a rare class weighs as much as a common one
        "train.threshold": 0.5,  # the default: the more probable class
        "train.threshold_metric": "balanced_accuracy",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"train": {"estimator": "svm"}}, "train.estimator: unknown estimator 'svm'; choose one of: 'random_forest'"),
        ({"prepare": {"test_size": 1.5}}, "prepare.test_size: Input should be less than 1"),
        ({"prepare": {"test_size": 0.2, "shuffle": True}}, "prepare.shuffle: Extra inputs are not permitted"),
        ({"n_jobs": 0}, "n_jobs: Value error, 0 cores cannot run anything"),
        ({"evaluate": {"importance_rows": 0}}, "evaluate.importance_rows: Input should be greater than 0"),
    ],
)
def test_bad_params_are_named(tmp_path, change, message):
    params = {**PARAMS, **change}
    if "estimator" in change.get("train", {}):
        params["train"] = {**PARAMS["train"], **change["train"]}
    with pytest.raises(MlopsError, match=message):
        load_params(write_params(tmp_path, params))


def test_missing_and_broken_params_files(tmp_path):
    with pytest.raises(MlopsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("seed: [1\n")
    with pytest.raises(MlopsError, match="not valid YAML"):
        load_params(tmp_path / "params.yaml")
