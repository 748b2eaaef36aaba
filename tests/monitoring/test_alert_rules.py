"""`mlops alert-rules`: the training class mix and the drift score alert, rendered from the data and params."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from mlops.schema import Feature, Schema
from tests.unit.conftest import MINIMAL_PARAMS

PROMTOOL = shutil.which("promtool")


def test_rules_follow_the_training_split_and_monitor_psi_threshold(tmp_path):
    labels = ["plain", 'say "hi"', "key: value"] * 3 + ["plain"]
    pd.DataFrame({"x": range(10), "label": labels}).to_parquet(tmp_path / "train.parquet")
    Schema([Feature("x", "numeric")], "label", sorted(set(labels))).save(tmp_path / "schema.json")
    params = {**MINIMAL_PARAMS, "monitor": {"psi_threshold": 0.4}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    output = tmp_path / "rules/generated.yml"

    command = ["alert-rules", "--train", "train.parquet", "--schema", "schema.json", "--output", str(output)]
    run = subprocess.run([sys.executable, "-m", "mlops", *command], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr

    groups = {group["name"]: group["rules"] for group in yaml.safe_load(output.read_text())["groups"]}
    shares = {rule["labels"]["class"]: rule["expr"] for rule in groups["mlops-training-mix"]}
    assert shares == {"plain": "vector(0.4)", 'say "hi"': "vector(0.3)", "key: value": "vector(0.3)"}
    (alert,) = groups["mlops-drift-threshold"]
    assert alert["alert"] == "DriftScoreHigh" and alert["expr"] == "max(mlops_drift_score) > 0.4"
    assert alert["annotations"]["summary"].endswith("over 0.4")
    if PROMTOOL is None:
        pytest.fail("promtool not found: apt-get install prometheus (.ci/apt-packages.txt)")
    check = subprocess.run([PROMTOOL, "check", "rules", str(output)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
