"""Evaluation is tracked whether or not `train` ran against this MLflow store (real SQLite stores)."""

import socket

import pytest

from mlops import tracking
from mlops.errors import MlopsError
from mlops.http import free_port


def _store(tmp_path, name, monkeypatch):
    uri = f"sqlite:///{tmp_path / name}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def test_evaluation_goes_to_the_training_run_when_it_is_in_this_store(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    uri = _store(tmp_path, "mlflow.db", monkeypatch)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("exp")
    training_run = client.create_run(experiment).info.run_id
    (tmp_path / "metrics.json").write_text("{}")

    logged = tracking.log_evaluation(
        {"run_id": training_run}, {"f1": 0.5}, [str(tmp_path / "metrics.json")], experiment="exp"
    )

    assert logged == training_run
    assert client.get_run(training_run).data.metrics == {"f1": 0.5}


@pytest.mark.slow  # two new MLflow stores
def test_a_training_run_from_another_store_gets_a_linked_evaluation_run_instead_of_an_error(tmp_path, monkeypatch):
    """What DVC's run-cache does on a fresh CI runner: train's outputs name a run this store never saw."""
    from mlflow import MlflowClient

    other = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'other.db'}")
    foreign_run = other.create_run(other.create_experiment("exp")).info.run_id
    uri = _store(tmp_path, "fresh.db", monkeypatch)
    training = {"run_id": foreign_run, "registered_model": "clf", "model_version": "3"}

    logged = tracking.log_evaluation(training, {"f1": 0.75}, [], experiment="exp")

    run = MlflowClient(tracking_uri=uri).get_run(logged)
    assert logged != foreign_run
    assert run.data.metrics == {"f1": 0.75}
    assert run.data.tags["mlops.training_run_id"] == foreign_run
    assert run.data.tags["mlops.model_version"] == "3" and run.data.tags["mlops.registered_model"] == "clf"


def test_an_unreachable_tracking_server_is_one_error_naming_the_uri_at_once(monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(MlopsError, match=rf"the MLflow tracking server {uri} is not reachable \(Connection refused\)"):
        tracking.check_reachable()
    with pytest.raises(MlopsError, match="not reachable"):
        tracking.connect()  # every stage that logs checks first


def test_a_listening_server_and_a_local_store_pass_the_check(tmp_path, monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{server.getsockname()[1]}")
        tracking.check_reachable()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.check_reachable()
