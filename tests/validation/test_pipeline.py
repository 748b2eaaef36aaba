"""End to end: bad data at the source stops `dvc repro` at validate and the model stays as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, TELEMETRY_OFF


def copy_repository(destination: Path) -> None:
    """The tracked files plus working-tree changes, as a fresh clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    for command in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"],
    ):
        subprocess.run(command, cwd=destination, check=True)


@pytest.mark.slow
def test_dvc_repro_on_corrupted_source_stops_at_validate_and_keeps_the_model(clean_frame, tmp_path):
    repo = tmp_path / "repo"
    copy_repository(repo)
    env = {**os.environ, **TELEMETRY_OFF, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)

    def dvc_repro():
        return subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True, timeout=900)

    first = dvc_repro()
    assert first.returncode == 0, first.stdout + first.stderr
    model = (repo / "models/model.skops").read_bytes()
    metrics = (repo / "reports/metrics.json").read_bytes()
    train_split = (repo / "data/prepared/train.parquet").read_bytes()

    # The user's data arrives corrupted at the source that ingest reads (data.source).
    bad = clean_frame.copy()
    bad.loc[:30, "mean radius"] = None
    bad.to_csv(repo / "data/source/batch.csv", index=False)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["source"] = "data/source/batch.csv"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    second = dvc_repro()
    output = second.stdout + second.stderr
    assert second.returncode != 0, output
    assert "Running stage 'validate'" in output
    assert "mlops validate: error: data/raw/dataset.csv failed" in output
    assert "expect_column_values_to_not_be_null(mean radius)" in output
    assert "Running stage 'prepare'" not in output and "Running stage 'train'" not in output
    assert (repo / "models/model.skops").read_bytes() == model
    assert (repo / "reports/metrics.json").read_bytes() == metrics
    assert (repo / "data/prepared/train.parquet").read_bytes() == train_split
    assert "failed" in (repo / "reports/validation/summary.md").read_text()
