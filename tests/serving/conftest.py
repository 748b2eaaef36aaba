"""A small model trained and exported once per test session, in a temporary project directory.

The data are synthetic (numeric and categorical columns, missing values, three classes) so
the tests exercise every kind of input; the stages' own functions build the model dir.
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
from tests.waiting import wait_for_url

TARGET = "label"


def make_dataset(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows)
    weight = rng.normal(50, 10, rows)
    color = rng.choice(["red", "green", "blue"], rows).astype(object)
    score = size / 3 + (weight - 50) / 10 + np.where(color == "red", 1.5, 0) + rng.normal(0, 0.5, rows)
    weight[rng.random(rows) < 0.05] = np.nan
    color[rng.random(rows) < 0.05] = None
    label = np.select([score < 3.2, score < 4.4], ["low", "mid"], "high")
    return pd.DataFrame(
        {"size": size, "weight": weight, "color": color, "grade": rng.integers(1, 4, rows), TARGET: label}
    )


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
        frame = make_dataset() if data is None else data
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


def make_numeric_dataset(rows: int = 200, seed: int = 1) -> pd.DataFrame:
    """Numeric columns only (one with missing values), two classes: a model the [N, F] tensor form fits."""
    rng = np.random.default_rng(seed)
    length, width = rng.normal(5, 1, rows), rng.normal(2, 0.5, rows)
    label = np.where(length + 2 * width + rng.normal(0, 0.3, rows) > 9, "yes", "no")
    width[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame({"length": length, "width": width, TARGET: label})


def make_regression_dataset(rows: int = 240, seed: int = 2) -> pd.DataFrame:
    """A continuous target of numeric and categorical columns, with missing values in both."""
    rng = np.random.default_rng(seed)
    size, weight = rng.normal(10, 3, rows), rng.normal(50, 10, rows)
    color = rng.choice(["red", "green", "blue"], rows).astype(object)
    value = 20 * size + 3 * weight + np.where(color == "red", 40.0, 0.0) + rng.normal(0, 5, rows)
    weight[rng.random(rows) < 0.05] = np.nan
    color[rng.random(rows) < 0.05] = None
    return pd.DataFrame({"size": size, "weight": weight, "color": color, TARGET: value})


@pytest.fixture(scope="session")
def regression_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("regression-project")
    build_project(root, data=make_regression_dataset(), task="regression")
    return root


@pytest.fixture(scope="session")
def numeric_model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("numeric-project")
    build_project(root, data=make_numeric_dataset())
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
