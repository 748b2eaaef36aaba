"""The monitor workflow's own shell steps, run in order by bash on a synthetic project (no Actions
engine): logs fetched from PREDICTION_LOG_URL, labels from LABELS_URL, drift, the decision to
build, then the data job's build step with a real DVC remote. The pull-request step (git push
and GitHub's REST API) is not run here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.monitoring.prediction_log import PredictionLog
from tests import factories
from tests.conftest import REPO_ROOT, env_for

from .test_loop import SOURCE, git_commit, run, synthetic_project

pytestmark = pytest.mark.slow
WORKFLOW = yaml.safe_load((REPO_ROOT / ".github/workflows/monitor.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def run_steps(job: str, names: list[str], cwd: Path, env: dict[str, str], known: dict[str, str]) -> dict[str, str]:
    """Run the named steps of `job` as a runner does (bash -eo pipefail); return their outputs by `id.name`."""
    definition = WORKFLOW["jobs"][job]
    steps = {step.get("name"): step for step in definition["steps"]}
    outputs: dict[str, str] = {}
    for name in names:
        step = steps[name]
        scope = {**known, **{f"steps.{key}": value for key, value in outputs.items()}}
        values = {**definition.get("env", {}), **step.get("env", {})}
        fill = lambda match, scope=scope: scope[match[1]]  # noqa: E731
        step_env = {key: EXPRESSION.sub(fill, str(value)) for key, value in values.items()}
        output_file = cwd.parent / f"output-{step.get('id', 'none')}"
        output_file.write_text("")
        github = {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(cwd.parent / "summary.md")}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=cwd, env={**env, **github, "GITHUB_RUN_NUMBER": "1", **step_env},
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, f"step {name!r}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        for line in output_file.read_text().splitlines():
            key, value = line.split("=", 1)
            outputs[f"{step['id']}.outputs.{key}"] = value
    return outputs


def test_the_monitor_steps_fetch_logs_join_labels_find_drift_and_build_a_pushed_data_version(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    env = env_for(project)
    synthetic_project(project, env)
    remote = tmp_path / "dvc-remote"
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], project, env)
    git_commit(project, "synthetic data, trained, a DVC remote")
    rows_before = len(pd.read_csv(project / SOURCE))

    shipped = tmp_path / "shipped-logs"  # where a log shipper put the service's files
    shifted = factories.noiseless(300, seed=7, shift=1.0)
    log = PredictionLog(shipped)
    features = shifted.drop(columns=[factories.NOISELESS_TARGET])
    for start in range(0, len(shifted), 50):
        rows = features.iloc[start : start + 50].to_dict(orient="records")
        log.record(rows, ["up"] * len(rows), [[0.5, 0.5]] * len(rows), "1", prediction_id=f"{start:032x}")
    log.close()
    labels = pd.DataFrame({"id": [f"{start:032x}-{row}" for start in range(0, 300, 50) for row in range(50)]})
    labels["label"] = shifted[factories.NOISELESS_TARGET].to_numpy()
    labels.head(200).to_csv(tmp_path / "labels.csv", index=False)

    known = {
        "vars.PREDICTION_LOG_URL": str(shipped),
        "vars.LABELS_URL": str(tmp_path / "labels.csv"),
        "vars.LOG_WINDOW_DAYS || '7'": "1",
        "vars.AWS_ENDPOINT_URL": "",
        "secrets.AWS_ACCESS_KEY_ID": "",
        "secrets.AWS_SECRET_ACCESS_KEY": "",
        "secrets.AWS_READ_ACCESS_KEY_ID": "",  # detect reads with the read-only key
        "secrets.AWS_READ_SECRET_ACCESS_KEY": "",
        "inputs.shift": "",
    }
    detect = run_steps(
        "detect",
        [
            "Where the files are (src/mlops/paths.py)",
            "Fetch the newest prediction logs, or write a sample batch without them",
            "Join the late labels to the logged predictions",
            "Detect drift",
            "Decide whether to build the next data version",
        ],
        project,
        env,
        known,
    )
    assert detect["labels.outputs.labels"] == "true"
    assert detect["drift.outputs.drift"] == "true"
    assert detect["due.outputs.build"] == "true"
    assert "matched" in (tmp_path / "summary.md").read_text()

    built = run_steps(
        "data",
        [
            "Where the files are (src/mlops/paths.py)",
            "Build the next data version (mlops retrain-data) and push it to the DVC remote",
        ],
        project,
        env,
        known,
    )
    assert built["build.outputs.built"] == "true"
    version = yaml.safe_load((project / "params.yaml").read_text())["data"]["source"]
    assert version != SOURCE and len(pd.read_csv(project / version)) == rows_before + 60
    pushed = run(["dvc", "status", "--cloud", "-q", f"{version}.dvc"], project, env)
    assert pushed.returncode == 0  # the new version is on the remote
    assert any(path.is_file() for path in remote.rglob("*"))
