"""A small model trained and exported once per test session, in a temporary project directory.

The data are synthetic (tests/factories.py: numeric and categorical columns, missing values, three
classes) so the tests exercise every kind of input; the stages' own functions build the model dir.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlops.http import free_port
from tests import factories
from tests.waiting import wait_for_url

TARGET = "label"  # the factories' default target column


def params(task: str = "classification", **serve):
    from mlops.config import Params

    return Params.model_validate(
        {
            "seed": 0,
            "data": {"source": "synthetic", "target": TARGET, "task": task},
            "prepare": {"test_size": 0.25},
            "train": {"estimator": "random_forest", "hyperparameters": {"n_estimators": 20}},
            "mlflow": {"experiment": "tests", "registered_model": "test-model"},
            "serve": serve,
        }
    )


def build_project(root, estimator=None, data=None, task="classification", roles=None, **serve) -> None:
    """prepare -> train -> (metrics) -> export into root, without MLflow or the evaluate stage's plots.

    `data`: a frame with a `label` column (default: the synthetic dataset); `task`: its data.task;
    `roles`: params.yaml's `columns` (ColumnsParams).
    """
    from mlops import paths
    from mlops.io import save_model, write_json, write_table
    from mlops.pipeline import export, prepare, train

    with contextlib.chdir(root):
        frame = factories.classification() if data is None else data
        train_frame, test_frame, schema = prepare.prepare(frame, TARGET, 0.25, 0, task=task, roles=roles)
        write_table(train_frame, paths.TRAIN)
        write_table(test_frame, paths.TEST)
        schema.save(paths.SCHEMA)
        model = estimator or train.fit(train_frame, schema, "random_forest", {"n_estimators": 20}, 0)
        if estimator is not None:
            model.fit(schema.features_frame(train_frame), schema.target_series(train_frame))
        save_model(model, paths.MODEL)
        write_json(paths.TRAINING_INFO, {"registered_model": "test-model", "model_version": "7", "git_commit": "abc"})
        predicted, actual = model.predict(schema.features_frame(test_frame)), schema.target_series(test_frame)
        if schema.regression:
            write_json(paths.METRICS, {"rmse": round(float(np.sqrt(np.mean((predicted - actual) ** 2))), 6)})
        else:
            write_json(paths.METRICS, {"accuracy": round(float((predicted == actual).mean()), 6)})
        export.export(params(task, **serve))


@pytest.fixture(scope="session")
def regression_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("regression-project")
    build_project(root, data=factories.regression(), task="regression")
    return root


@pytest.fixture(scope="session")
def numeric_model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("numeric-project")
    build_project(root, data=factories.numeric_classes())
    return root / "models"


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    build_project(root)
    return root


@pytest.fixture(scope="session")
def model_dir(project):
    return project / "models"


@pytest.fixture(scope="session")
def test_frame(project):
    return pd.read_parquet(project / "data/prepared/test.parquet")


@pytest.fixture(scope="session")
def expected(project, test_frame):
    """scikit-learn's predictions and probabilities for the test split."""
    from mlops.io import load_model
    from mlops.schema import Schema

    schema = Schema.load(project / "data/prepared/schema.json")
    model = load_model(project / "models/model.skops")
    features = schema.features_frame(test_frame)
    return [str(label) for label in model.predict(features)], model.predict_proba(features)


def to_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready feature records: NaN as null, categorical missing ("") as null."""
    features = frame.drop(columns=[TARGET])
    records = []
    for row in features.to_dict(orient="records"):
        records.append(
            {k: (None if (isinstance(v, float) and math.isnan(v)) or v == "" else v) for k, v in row.items()}
        )
    return records


@pytest.fixture(scope="session")
def records(test_frame):
    return to_records(test_frame)


@pytest.fixture
def make_app(model_dir, monkeypatch):
    """create_app on the session's model dir, with environment overrides."""
    from mlops.serving.app import create_app

    def make(directory=None, **env):
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        return create_app(directory or model_dir)

    return make


@pytest.fixture
def client(make_app):
    return make_app().test_client()


class Server:
    """The service under gunicorn on a free loopback port, given in `port_variable` (PORT, AIP_HTTP_PORT, ...).

    `entrypoint`: start it as the image does, `python -m mlops.serving serve`; `app`: another
    application for gunicorn's config to serve (module:factory()).
    """

    def __init__(self, model_dir, workdir, workers: int = 2, port_variable="PORT", entrypoint=False, app=None, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout, self.stderr = workdir / "stdout.log", workdir / "stderr.log"
        environment = {
            **os.environ, "MLOPS_MODEL_DIR": str(model_dir), "WEB_CONCURRENCY": str(workers),
            "MLOPS_GRACEFUL_TIMEOUT": "10", **env, port_variable: str(self.port),
        }  # fmt: skip
        for name in ("PROMETHEUS_MULTIPROC_DIR", "AIP_HTTP_PORT", "SAGEMAKER_BIND_TO_PORT", "PORT"):
            if name != port_variable and name not in env:
                environment.pop(name, None)
        command = (
            ["-m", "mlops.serving", "serve"]
            if entrypoint
            else ["-m", "gunicorn", "-c", "python:mlops.serving.gunicorn_conf", *([app] if app else [])]
        )
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, *command], cwd=workdir, env=environment, stdout=out, stderr=err,
            )  # fmt: skip

    def wait_ready(self, seconds: float = 90, path: str = "/ready") -> None:
        wait_for_url(self.url + path, seconds, lambda: f"gunicorn ready: {self.stderr.read_text()}", self.process)

    def workers(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return sorted(int(pid) for pid in found.split())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def serve(model_dir, tmp_path):
    servers = []

    def start(directory=None, ready=True, **kwargs):
        server = Server(directory or model_dir, tmp_path, **kwargs)
        servers.append(server)
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()
