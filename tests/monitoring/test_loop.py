"""The monitoring loop end to end with real parts, on synthetic data: a model trained by `dvc repro`,
served by gunicorn with the prediction log on, shifted traffic, logs shipped to an S3-compatible
server (moto) and fetched back with `mlops fetch-logs`, labels for part of the traffic, `mlops
feedback`, `mlops drift`, `mlops retrain-data`, the new data version pushed to a DVC remote on that
server, pulled into a fresh clone, and `dvc repro` there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.http import free_port
from mlops.io import read_table
from mlops.monitoring.prediction_log import read_records
from mlops.paths import RAW
from tests import factories
from tests.conftest import copy_repository, env_for
from tests.unit.conftest import MINIMAL_PARAMS
from tests.waiting import wait_for_url

from .s3_server import make_bucket, s3_server
from .test_prometheus import gunicorn_command, running_process, wait_for

SOURCE = "data/source/events.csv"
TRAFFIC_ROWS = 300


def run(command: list[str], cwd: Path, env: dict[str, str], expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == expect, f"{command}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def synthetic_project(root: Path, env: dict[str, str]) -> None:
    """The template with its example replaced: synthetic data under data/source/, its params and suite."""
    copy_repository(root)
    mlops, dvc = [sys.executable, "-m", "mlops"], [sys.executable, "-m", "dvc"]
    (root / "data/source").mkdir(parents=True, exist_ok=True)
    factories.noiseless(1000, seed=0).to_csv(root / SOURCE, index=False)
    params = {
        **MINIMAL_PARAMS,
        "data": {"source": SOURCE, "target": factories.NOISELESS_TARGET, "task": "classification"},
    }
    params["serve"] = {"runtime": "onnx"}  # dvc.yaml's export stage reads this section
    params["columns"] = {"ids": []}  # and prepare this one
    params["report"] = {"cv_folds": 2, "cv_repeats": 1, "cv_seed": 0, "cv_max_rows": 1000}  # and crossval this one
    params["evaluate"] = {"importance_rows": 1000}  # and evaluate this one
    params["checks"] = {"beat_baseline": True}  # and checks this one
    params["monitor"] = {"concept_min_rows": 50, "retrain": {"max_production_rows": 60, "max_age_days": 30}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run([*mlops, "expectations", "infer", "--data", SOURCE], root, env)
    run([*dvc, "add", "-q", SOURCE], root, env)
    run([*dvc, "repro"], root, env)


def git_commit(root: Path, message: str) -> None:
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", message], cwd=root, check=True)


def serve_and_replay(project: Path, logs: Path, env: dict[str, str], tmp_path: Path) -> None:
    """gunicorn as `make serve` starts it, with the prediction log on; shifted traffic from `mlops simulate`."""
    port = free_port()
    (tmp_path / "multiproc").mkdir()
    service_env = {
        **env,
        "MLOPS_MODEL_DIR": str(project / "models"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc"),
        "MLOPS_PREDICTION_LOG_DIR": str(logs),
    }
    url = f"http://127.0.0.1:{port}"
    with running_process(gunicorn_command(port), tmp_path / "gunicorn.log", cwd=project, env=service_env):
        wait_for_url(f"{url}/health", 60, "the service")
        replay = ["simulate", "--url", url, "--rows", str(TRAFFIC_ROWS), "--batch-size", "50", "--shift", "load=1"]
        run([sys.executable, "-m", "mlops", *replay], project, env)
        wait_for(lambda: len(read_records(logs)[0]) >= TRAFFIC_ROWS, 30, "every row in the prediction log")


def write_labels(logged: list[dict], path: Path) -> dict[str, str]:
    """True labels for two thirds of the logged rows, plus one duplicate, one stranger, one unknown class."""
    rows = pd.DataFrame([record["features"] for record in logged])
    labelled = pd.DataFrame({"id": [r["id"] for r in logged], "label": factories.noiseless_truth(rows)})
    labelled = labelled.iloc[: 2 * len(rows) // 3]
    anomalies = pd.DataFrame(
        {
            "id": [labelled.id.iloc[0], "ticket-4711", logged[-1]["id"]],
            "label": [labelled.label.iloc[0], "up", "sideways"],
        }
    )
    pd.concat([labelled, anomalies]).to_csv(path, index=False)
    return dict(zip(labelled.id, labelled.label, strict=True))


@pytest.mark.slow
def test_shifted_traffic_and_late_labels_become_a_new_data_version_that_trains_in_a_fresh_clone(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    env = env_for(project)
    mlops, dvc = [sys.executable, "-m", "mlops"], [sys.executable, "-m", "dvc"]
    synthetic_project(project, env)
    git_commit(project, "synthetic data, trained")
    rows_before = len(pd.read_csv(project / SOURCE))

    logs = tmp_path / "service-logs"
    serve_and_replay(project, logs, env, tmp_path)

    with s3_server(tmp_path / "moto.log") as s3:
        env = {**env, **s3}
        bucket = make_bucket(s3, "production")
        for file in logs.glob("predictions-*.jsonl*"):  # what a log shipper does
            bucket.upload_file(str(file), "production", f"logs/{file.name}")
        env["PREDICTION_LOG_URL"] = "s3://production/logs/"
        run([*mlops, "fetch-logs", "--days", "1"], project, env)
        logged = read_records(project / "data/production")[0]
        assert len(logged) == TRAFFIC_ROWS

        truth = write_labels(logged, tmp_path / "labels.csv")
        run([*mlops, "feedback", "--labels", str(tmp_path / "labels.csv")], project, env)
        feedback = json.loads((project / "reports/feedback/feedback.json").read_text())
        assert feedback["counts"] == {
            "matched": len(truth) - 1,  # the duplicated id's two rows are held back
            "duplicate": 2,
            "unmatched": 1,
            "never_logged": 0,
            "unknown_class": 1,
        }
        assert feedback["live"]["rows"] == len(truth) - 1 and "metrics" in feedback["live"]
        labelled = pd.read_parquet(project / "data/feedback/labelled.parquet")
        assert (labelled[factories.NOISELESS_TARGET] == labelled["id"].map(truth)).all()

        drift = run([*mlops, "drift", "--labels", "data/feedback/labelled.parquet"], project, env, expect=3)
        assert "DRIFT" in drift.stdout
        report = json.loads((project / "reports/drift/drift.json").read_text())
        assert "load" in report["drifted_features"] and report["concept"]["rows"] == len(truth) - 1

        run([*mlops, "retrain-data"], project, env)
        new_source = yaml.safe_load((project / "params.yaml").read_text())["data"]["source"]
        assert new_source != SOURCE and (project / f"{new_source}.dvc").is_file()
        assert len(pd.read_csv(project / new_source)) == rows_before + 60

        make_bucket(s3, "dvc-store")
        run([*dvc, "remote", "add", "-d", "storage", "s3://dvc-store/project"], project, env)
        git_commit(project, "new data version")
        run([*dvc, "push", "-q"], project, env)

        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
        clone_env = {**env_for(clone), **s3}
        run([*dvc, "pull", "-q"], clone, clone_env)  # every tracked file: `dvc repro` checks each data source
        assert (clone / new_source).read_bytes() == (project / new_source).read_bytes()
        run([*dvc, "repro"], clone, clone_env)
    assert len(read_table(clone / RAW)) == rows_before + 60
    assert (clone / "models/model.onnx").is_file()
    metrics = json.loads((clone / "reports/metrics.json").read_text())
    assert metrics["accuracy"] > 0.8
