"""Shared fixtures: the default data (breast cancer) prepared as the pipeline does, and a
small project directory with a fitted model, held-out predictions and training metrics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mlops import paths
from mlops.pipeline.ingest import load_bundled
from mlops.pipeline.prepare import prepare

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def default_data():
    """(train, test, schema) of the default data, split exactly as `mlops prepare` does."""
    return prepare(load_bundled("breast_cancer", "target"), "target", 0.2, 42)


@pytest.fixture(scope="session")
def project_template(tmp_path_factory, default_data):
    """A repository-shaped directory with what `mlops drift` reads; copied per test."""
    from mlops.io import save_model, write_json, write_table
    from mlops.model import build_model
    from mlops.pipeline.evaluate import compute_metrics

    root = tmp_path_factory.mktemp("project")
    train, test, schema = default_data
    write_table(train, root / paths.TRAIN)
    write_table(test, root / paths.TEST)
    schema.save(root / paths.SCHEMA)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    model = build_model(schema, "random_forest", {"n_estimators": 30}, seed=0)
    model.fit(schema.features_frame(train), schema.target_series(train))
    save_model(model, root / paths.MODEL)
    features, truth = schema.features_frame(test), schema.target_series(test)
    proba = model.predict_proba(features)
    predicted = pd.Series(model.predict(features)).astype(str)
    predictions = pd.DataFrame(proba, columns=[f"proba_{c}" for c in model.classes_])
    write_table(predictions.assign(actual=truth, predicted=predicted), root / paths.PREDICTIONS)
    write_json(root / paths.METRICS, compute_metrics(truth, predicted, proba, schema.classes))
    return root


@pytest.fixture
def project(tmp_path, project_template, monkeypatch):
    """A fresh copy of the project, as the working directory."""
    root = tmp_path / "repo"
    shutil.copytree(project_template, root)
    monkeypatch.chdir(root)
    return root
