"""Shared fixtures: a synthetic binary dataset prepared as the pipeline does, and a small
project directory with a fitted model, held-out predictions and training metrics."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from mlops import paths
from mlops.metrics import probability_columns
from mlops.pipeline.prepare import prepare
from tests import factories
from tests.unit.conftest import MINIMAL_PARAMS

# Eight numeric measurements on different scales, four of them informative, a binary string target.
INFORMATIVE = {"size": 10, "weight": 50, "age": 40, "score": 1}
UNRELATED = {"length": 100, "width": 5, "depth": 2, "noise": 3}
FEATURES = (*INFORMATIVE, *UNRELATED)
CLASSES = ("no", "yes")  # the positive class is the second


def make_dataset(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    return factories.measurements(
        rows, seed, INFORMATIVE, UNRELATED, loading=0.8, spread=0.6, label_noise=0.3, threshold=0.3, classes=CLASSES
    )


@pytest.fixture(scope="session")
def dataset():
    """(train, test, schema) of the synthetic dataset, split exactly as `mlops prepare` does."""
    return prepare(make_dataset(), "target", 0.2, 42)


def write_project(root, train, test, schema, model) -> None:
    """What `mlops drift` and `mlops feedback` read of a trained project: the splits, the schema, params.yaml,
    the fitted `model`, its test-split predictions and metrics (of a classifier or a regressor)."""
    from mlops.io import save_model, write_json, write_table
    from mlops.metrics import compute_metrics, regression_metrics

    write_table(train, root / paths.TRAIN)
    write_table(test, root / paths.TEST)
    schema.save(root / paths.SCHEMA)
    params = {**MINIMAL_PARAMS, "data": {"source": "synthetic", "target": schema.target, "task": schema.task}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    save_model(model, root / paths.MODEL)
    features, truth = schema.features_frame(test), schema.target_series(test)
    if schema.regression:
        predicted = model.predict(features)
        write_table(pd.DataFrame({"actual": truth, "predicted": predicted}), root / paths.PREDICTIONS)
        write_json(root / paths.METRICS, regression_metrics(truth, predicted))
        return
    proba = model.predict_proba(features)
    predicted = pd.Series(model.predict(features)).astype(str)
    predictions = pd.DataFrame(proba, columns=probability_columns(model.classes_))
    write_table(predictions.assign(actual=truth, predicted=predicted), root / paths.PREDICTIONS)
    write_json(root / paths.METRICS, compute_metrics(truth, predicted, proba, schema.classes))


@pytest.fixture(scope="session")
def project_template(tmp_path_factory, dataset):
    """A repository-shaped directory with what `mlops drift` reads; copied per test."""
    from mlops.model import build_model

    root = tmp_path_factory.mktemp("project")
    train, test, schema = dataset
    model = build_model(schema, "random_forest", {"n_estimators": 30}, seed=0)
    model.fit(schema.features_frame(train), schema.target_series(train))
    write_project(root, train, test, schema, model)
    return root


@pytest.fixture
def project(tmp_path, project_template, monkeypatch):
    """A fresh copy of the project, as the working directory."""
    root = tmp_path / "repo"
    shutil.copytree(project_template, root)
    monkeypatch.chdir(root)
    return root
