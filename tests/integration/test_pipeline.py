"""The whole pipeline, run with DVC in a fresh copy of the repository."""

import json
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.http import free_port
from tests.conftest import copy_repository, env_for

pytestmark = pytest.mark.slow


def dvc(root: Path, env, *args: str) -> str:
    result = subprocess.run(["dvc", *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([\w-]+)'", output)


def all_stages(root: Path) -> list[str]:
    return list(yaml.safe_load((root / "dvc.yaml").read_text())["stages"])


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_repository(tmp_path_factory.mktemp("pipeline"))
    env = env_for(root)
    output = dvc(root, env, "repro")
    return root, env, output


def test_every_stage_runs_from_scratch_and_the_model_is_good(repo):
    root, _, output = repo
    # validate's results for the committed data are committed too: DVC knows they are current.
    assert stages_run(output) == [stage for stage in all_stages(root) if stage != "validate"]
    metrics = json.loads((root / "reports/metrics.json").read_text())
    supports = [scores["support"] for scores in json.loads((root / "reports/per_class.json").read_text()).values()]
    assert metrics["accuracy"] > max(supports) / sum(supports)  # better than always the majority class
    assert set(metrics) >= {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    for figure in ("confusion_matrix", "roc", "precision_recall", "feature_importance"):
        assert (root / f"reports/figures/{figure}.png").read_bytes().startswith(b"\x89PNG")


def test_a_fresh_copy_changes_no_tracked_file_but_dvc_lock(repo):
    """What the run writes to git-tracked files (metrics, plots, the crossval plan, figures) is the same
    on every run; what is not (the crossval timing, the checks' result) stays in DVC's cache."""
    root, _, _ = repo
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert changed == [" M dvc.lock"]


def test_the_checks_passed_and_the_metrics_files_hold_only_metrics(repo):
    root, env, _ = repo
    checks = json.loads((root / "reports/checks.json").read_text())
    assert checks["passed"] and checks["metric"] == "balanced_accuracy"
    assert checks["model"]["balanced_accuracy"] > checks["baseline"]["balanced_accuracy"] + 0.3
    shown = dvc(root, env, "metrics", "show", "--json")
    for bookkeeping in ("cv_seed", "plan", "seconds", "fits", "passed"):
        assert f'"{bookkeeping}"' not in shown


def test_a_model_that_fails_its_checks_stops_before_export_and_the_service_keeps_the_last_good_model(repo):
    root, env, _ = repo
    served = [root / "models/model.onnx", root / "models/metadata.json"]
    before = [path.read_bytes() for path in served]
    params_file = root / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["checks"]["baseline_margin"] = 0.6  # balanced accuracy above 1.1: no model passes
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        failed = subprocess.run(["dvc", "repro"], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert failed.returncode != 0
        assert stages_run(failed.stdout) == ["checks"]
        lines = [line for line in failed.stderr.splitlines() if line.startswith("mlops checks:")]
        assert lines[0].startswith("mlops checks: FAILED beats the baseline: balanced_accuracy 0.9")
        assert "or lower checks.baseline_margin in params.yaml" in lines[0]
        assert lines[1].startswith("mlops checks: error: the model failed 1 of 2 checks")
        assert "Traceback" not in failed.stderr
        assert [path.read_bytes() for path in served] == before
        assert json.loads((root / "reports/checks.json").read_text())["passed"] is False
        # train.yml's step, with the real dvc: the runner reproduces without dvc.lock (restored from the
        # run-cache), the checks fail again, the step fails and tells the report steps so.
        script = yaml.safe_load((root / ".github/workflows/train.yml").read_text())["jobs"]["pipeline"]["steps"]
        (run,) = [entry["run"] for entry in script if entry.get("name") == "Run the pipeline"]
        lock = (root / "dvc.lock").read_text()
        output = root.parent / "github-output"
        step = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", run],
            cwd=root,
            env={**env, "GITHUB_OUTPUT": str(output), "DVC_REMOTE_URL": ""},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert step.returncode != 0 and output.read_text() == "checks=failed\n", step.stdout + step.stderr
        assert "Running stage 'train'" not in step.stdout  # restored from the run-cache
        (root / "dvc.lock").write_text(lock)
    finally:
        params_file.write_text(original)
    passed = dvc(root, env, "repro")
    assert stages_run(passed) == []  # the passing checks come back from the run-cache; export's inputs are unchanged
    assert "Stage 'checks' is cached - skipping run" in passed
    assert json.loads((root / "reports/checks.json").read_text())["passed"] is True


def test_dvc_metrics_plots_and_dag_work(repo):
    root, env, _ = repo
    assert "accuracy" in dvc(root, env, "metrics", "show")
    dvc(root, env, "plots", "show", "--out", "plots-html")
    page = (root / "plots-html/index.html").read_text()
    for title in ("Confusion matrix", "ROC curve", "Precision-recall curve", "Permutation feature importance"):
        assert title in page
    dag = dvc(root, env, "dag")
    assert all(stage in dag for stage in all_stages(root))


def test_run_is_tracked_and_the_model_registered(repo):
    from mlflow import MlflowClient

    root, env, _ = repo
    info = json.loads((root / "models/training.json").read_text())
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    run = client.get_run(info["run_id"])
    assert run.data.params["train.estimator"] == "random_forest"
    assert run.data.params["seed"] == "42"
    assert run.data.metrics["accuracy"] == json.loads((root / "reports/metrics.json").read_text())["accuracy"]
    assert len(run.data.tags["git_commit"]) >= 40
    assert run.data.tags["dataset_sha256"] == info["dataset_sha256"]
    version = client.get_model_version(info["registered_model"], info["model_version"])
    assert version.run_id == info["run_id"]


def test_nothing_changed_nothing_reruns(repo):
    root, env, _ = repo
    started = time.perf_counter()
    output = dvc(root, env, "repro")
    print(f"no-op dvc repro: {time.perf_counter() - started:.2f} s")
    assert stages_run(output) == []


def test_a_hyperparameter_change_reruns_only_training_and_after(repo):
    root, env, _ = repo
    params_file = root / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["train"]["hyperparameters"]["n_estimators"] = 60
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        ran = stages_run(dvc(root, env, "repro"))
    finally:
        params_file.write_text(original)
        dvc(root, env, "repro")  # back to the original parameters' model for the tests below
    stages = all_stages(root)
    assert ran == stages[stages.index("train") :]


def test_forced_reruns_are_identical(repo):
    root, env, _ = repo
    before = (root / "reports/metrics.json").read_text(), (root / "data/predictions/test.csv").read_text()
    dvc(root, env, "repro", "--force")
    after = (root / "reports/metrics.json").read_text(), (root / "data/predictions/test.csv").read_text()
    assert after == before


def test_push_to_a_local_remote_and_pull_into_a_fresh_clone(repo, tmp_path):
    root, env, _ = repo
    dvc(root, env, "remote", "add", "--default", "storage", str(tmp_path / "remote"))
    dvc(root, env, "push")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "pipeline outputs"], cwd=root, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    assert not (clone / "models/model.skops").exists()
    dvc(clone, env, "pull")
    assert "up to date" in dvc(clone, env, "status")
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    outs = [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]
    assert "models/model.skops" in outs
    for out in outs:
        original, pulled = root / out, clone / out
        if original.is_file():
            assert pulled.read_bytes() == original.read_bytes(), out
        else:
            assert sorted(p.name for p in pulled.rglob("*")) == sorted(p.name for p in original.rglob("*")), out
    assert pd.read_parquet(clone / "data/prepared/train.parquet").equals(
        pd.read_parquet(root / "data/prepared/train.parquet")
    )


def test_an_unreachable_tracking_server_fails_train_at_once_and_keeps_the_last_good_model(repo):
    root, env, _ = repo
    outputs = [root / "models/model.skops", root / "models/training.json"]
    before = [path.read_bytes() for path in outputs]
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.perf_counter()
    result = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", "train"],
        cwd=root,
        env={**env, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    print(f"train against an unreachable tracking server: failed in {seconds:.1f} s")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlops train: error:")]
    assert errors == [
        f"mlops train: error: the MLflow tracking server {uri} is not reachable (Connection refused): "
        "start it or fix MLFLOW_TRACKING_URI (unset, runs are tracked in mlflow.db)"
    ]
    assert "Traceback" not in result.stderr
    assert seconds < 60  # MLflow's own retries took 260 s: the bound catches a return to them; the figure is printed
    assert [path.read_bytes() for path in outputs] == before
    assert "up to date" in dvc(root, env, "status", "train")  # the outputs are again the ones dvc.lock records
