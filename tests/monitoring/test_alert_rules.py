"""`mlops alert-rules`: the training class mix and the drift score alert, rendered from the data and params."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
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
    mix = groups["mlops-training-mix"]
    shares = {rule["labels"]["class"]: rule["expr"] for rule in mix if "record" in rule}
    assert shares == {"plain": "vector(0.4)", 'say "hi"': "vector(0.3)", "key: value": "vector(0.3)"}
    assert [rule["alert"] for rule in mix if "alert" in rule] == ["PredictionMixShift"]
    (alert,) = groups["mlops-drift-threshold"]
    assert alert["alert"] == "DriftScoreHigh" and alert["expr"] == "max(mlops_drift_score) > 0.4"
    assert alert["annotations"]["summary"].endswith("over 0.4")
    if PROMTOOL is None:
        pytest.fail("promtool not found: apt-get install prometheus (.ci/apt-packages.txt)")
    check = subprocess.run([PROMTOOL, "check", "rules", str(output)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_regression_model_gets_the_prediction_distribution_alert_on_the_services_own_buckets(tmp_path):
    """The buckets' `le` labels are the ones the service's histogram writes, and their reference shares
    are those of the test split's predictions; no class-mix rules."""
    from mlops.serving.metrics import Metrics

    rng = np.random.default_rng(0)
    predicted = rng.normal(50, 10, 400).round(3)
    edges = sorted({round(float(v), 6) for v in np.quantile(predicted, np.linspace(0.1, 0.9, 9))})
    pd.DataFrame({"actual": predicted + 1, "predicted": predicted}).to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "metadata.json").write_text(json.dumps({"prediction_buckets": edges}))
    Schema([Feature("x", "numeric")], "amount", [], task="regression").save(tmp_path / "schema.json")
    params = {**MINIMAL_PARAMS, "data": {"source": "d.csv", "target": "amount", "task": "regression"}}
    params["train"] = {"estimator": "ridge"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params, "monitor": {"psi_threshold": 0.3}}))
    output = tmp_path / "generated.yml"

    command = ["alert-rules", "--schema", "schema.json", "--predictions", "test.csv", "--metadata", "metadata.json"]
    run = subprocess.run(
        [sys.executable, "-m", "mlops", *command, "--output", str(output)], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    groups = {group["name"]: group["rules"] for group in yaml.safe_load(output.read_text())["groups"]}
    assert set(groups) == {"mlops-prediction-distribution", "mlops-drift-threshold"}
    rules = groups["mlops-prediction-distribution"]
    reference = [float(r["expr"][len("vector(") : -1]) for r in rules if r.get("record", "").startswith("mlops:ref")]
    counts = np.bincount(np.searchsorted(edges, predicted, side="left"), minlength=len(edges) + 1)
    assert reference == pytest.approx(counts / len(predicted), abs=1e-6) and len(reference) == len(edges) + 1
    (alert,) = [r for r in rules if "alert" in r]
    assert alert["alert"] == "PredictionDistributionShift" and "> 0.3 and on ()" in alert["expr"]

    metrics = Metrics("m", "1", tuple(edges))
    metrics.observe_values([50.0])
    exposed = set(re.findall(r'mlops_prediction_value_bucket\{le="([^"]+)"', metrics.exposition().decode()))
    written = set(re.findall(r'le="([^"]+)"', output.read_text()))
    assert written == exposed and len(written) == len(edges) + 1
    check = subprocess.run([PROMTOOL, "check", "rules", str(output)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_regression_model_without_prediction_buckets_is_one_line(tmp_path):
    Schema([Feature("x", "numeric")], "amount", [], task="regression").save(tmp_path / "schema.json")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(MINIMAL_PARAMS))
    run = subprocess.run(
        [sys.executable, "-m", "mlops", "alert-rules", "--schema", "schema.json", "--metadata", "absent.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "absent.json has no prediction_buckets: run the pipeline first" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "deploy").exists()
