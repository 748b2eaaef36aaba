"""`mlops promote` moves a registry alias in a real (SQLite) MLflow store."""

import json

from mlops.cli import main


def test_promote_points_the_alias_at_the_exported_version(tmp_path, monkeypatch, capsys):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri)
    client.create_registered_model("churn")
    for _ in range(2):
        client.create_model_version("churn", source=str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models/metadata.json").write_text(json.dumps({"name": "churn", "version": "2"}))

    assert main(["promote"]) == 0
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"

    (tmp_path / "models/metadata.json").write_text(json.dumps({"name": "churn", "version": "9"}))
    assert main(["promote", "--alias", "staging"]) == 1
    assert "could not set alias staging on churn version 9" in capsys.readouterr().err
