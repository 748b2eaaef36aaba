"""End to end: bad data at the source stops `dvc repro` at validate and the model stays as it was."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
import yaml

from mlops import paths
from tests.conftest import copy_repository, env_for


@pytest.mark.slow
def test_dvc_repro_on_corrupted_source_stops_at_validate_and_keeps_the_model(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    copy_repository(repo)
    env = env_for(repo)

    def dvc_repro():
        return subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True, timeout=900)

    first = dvc_repro()
    assert first.returncode == 0, first.stdout + first.stderr
    model = (repo / "models/model.skops").read_bytes()
    metrics = (repo / "reports/metrics.json").read_bytes()
    train_split = (repo / "data/prepared/train.parquet").read_bytes()

    # The data arrives corrupted at the source that ingest reads (data.source): a column the
    # suite says is never missing has missing values.
    suite = json.loads((repo / "gx/expectations/raw_dataset.json").read_text())["expectations"]
    column = next(
        e["kwargs"]["column"]
        for e in suite
        if e["type"] == "expect_column_values_to_not_be_null" and "mostly" not in e["kwargs"]
    )
    bad = pd.read_parquet(repo / paths.RAW)
    bad.loc[:30, column] = None
    bad.to_csv(repo / "data/source/batch.csv", index=False)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["source"] = "data/source/batch.csv"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))

    second = dvc_repro()
    output = second.stdout + second.stderr
    assert second.returncode != 0, output
    assert "Running stage 'validate'" in output
    assert "mlops validate: error: data/raw/dataset.parquet failed" in output
    assert f"expect_column_values_to_not_be_null({column})" in output
    assert "Running stage 'prepare'" not in output and "Running stage 'train'" not in output
    assert (repo / "models/model.skops").read_bytes() == model
    assert (repo / "reports/metrics.json").read_bytes() == metrics
    assert (repo / "data/prepared/train.parquet").read_bytes() == train_split
    assert "failed" in (repo / "reports/validation/summary.md").read_text()
