"""Experiment tracking and the model registry, with MLflow.

By default runs go to a SQLite file in the repository (mlflow.db, git-ignored): no server,
no credentials. Set MLFLOW_TRACKING_URI to use a team's tracking server instead.
"""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any
from urllib.parse import urlsplit

from mlops.errors import MlopsError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CONNECT_TIMEOUT_SECONDS = 5  # MLflow's own client retries for minutes before it gives up


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def git_commit() -> str:
    """The current commit, with '-dirty' when the work tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


def check_reachable(timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Fail at once, naming the URI, when a tracking server over HTTP(S) does not accept a connection."""
    uri = tracking_uri()
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return  # a local store: a file or a database, nothing to reach
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise MlopsError(
            f"the MLflow tracking server {uri} is not reachable ({reason}): start it or fix MLFLOW_TRACKING_URI "
            f"(unset, runs are tracked in {DEFAULT_TRACKING_URI.removeprefix('sqlite:///')})"
        ) from exc


def connect():
    """The mlflow module, pointed at the tracking URI (quiet: warnings and errors only)."""
    import logging

    check_reachable()

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow


def log_training(
    model,
    *,
    experiment: str,
    registered_model: str,
    params: dict[str, Any],
    tags: dict[str, str],
    input_example,
) -> dict[str, Any]:
    """Log a fitted model with its params and tags, and register a new model version."""
    import importlib.metadata

    import skops.io as sio
    from mlflow.models import infer_signature

    from mlops.io import trusted_types

    mlflow = connect()
    requirements = [
        f"{name}=={importlib.metadata.version(name)}" for name in ("scikit-learn", "skops", "numpy", "pandas", "scipy")
    ]
    try:
        mlflow.set_experiment(experiment)
        with mlflow.start_run() as run:
            mlflow.log_params(params)
            mlflow.set_tags(tags)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                skops_trusted_types=trusted_types(sio.get_untrusted_types(data=sio.dumps(model)), "the model"),
                signature=infer_signature(input_example, model.predict(input_example)),
                input_example=input_example,
                pip_requirements=requirements,
                registered_model_name=registered_model,
            )
    except MlopsError:
        raise
    except Exception as exc:
        raise MlopsError(f"MLflow tracking at {tracking_uri()} failed: {exc}") from exc
    return {
        "tracking_uri": tracking_uri(),
        "run_id": run.info.run_id,
        "model_uri": info.model_uri,
        "registered_model": registered_model,
        "model_version": str(info.registered_model_version),
    }


def log_evaluation(
    training: dict[str, Any], metrics: dict[str, float], artifacts: list[str], *, experiment: str
) -> str:
    """Add test-set metrics and report files to the training run, or to a run of their own.

    The training run is in this store only when `train` ran here: DVC may restore a stage's
    outputs from its cache (a CI cache, another clone's run), and then training.json names a
    run of another store. The evaluation then gets a new run in the same experiment, linked to
    the model by tags (training run, model version), so a restored stage never breaks this one.
    Returns the id of the run logged to.
    """
    mlflow = connect()
    from mlflow.exceptions import MlflowException

    training_run = training.get("run_id")
    try:
        try:
            run = mlflow.get_run(training_run) if training_run else None
        except MlflowException:
            run = None
        if run is not None:
            with mlflow.start_run(run_id=training_run):
                _log(mlflow, metrics, artifacts)
            return training_run
        mlflow.set_experiment(experiment)
        tags = {
            "mlops.stage": "evaluate",
            "mlops.training_run_id": training_run,
            "mlops.registered_model": training.get("registered_model") or "",
            "mlops.model_version": str(training.get("model_version") or ""),
        }
        with mlflow.start_run(run_name="evaluate", tags=tags) as run:
            _log(mlflow, metrics, artifacts)
        print(
            f"evaluate: training run {training_run} is not in {tracking_uri()} (train's outputs came from "
            f"DVC's cache): metrics logged to run {run.info.run_id}, tagged with the training run"
        )
        return run.info.run_id
    except Exception as exc:
        raise MlopsError(f"MLflow tracking at {tracking_uri()} failed: {exc}") from exc


def _log(mlflow, metrics: dict[str, float], artifacts: list[str]) -> None:
    mlflow.log_metrics(metrics)
    for path in artifacts:
        mlflow.log_artifact(path, artifact_path="reports")
