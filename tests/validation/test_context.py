"""The GX context under gx/: its settings, `mlops expectations infer`, and the checkpoint the stage runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from mlops.validation.context import SETTINGS, open_context
from tests import factories
from tests.conftest import REPO_ROOT
from tests.unit.conftest import MINIMAL_PARAMS


def mlops(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlops", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_a_new_context_gets_the_settings_of_the_committed_one(tmp_path):
    open_context(tmp_path)
    written = yaml.safe_load((tmp_path / "gx/great_expectations.yml").read_text())
    committed = yaml.safe_load((REPO_ROOT / "gx/great_expectations.yml").read_text())
    assert {key: written[key] for key in SETTINGS} == SETTINGS
    per_context = {"data_context_id", "fluent_datasources"}  # an id, and the data source infer adds
    assert {k: v for k, v in written.items() if k not in per_context} == {
        k: v for k, v in committed.items() if k not in per_context
    }
    assert "uncommitted/" in (tmp_path / "gx/.gitignore").read_text().split()


def test_opening_the_context_leaves_its_config_file_alone(gx_root):
    config = gx_root / "gx/great_expectations.yml"
    before = config.read_bytes()
    open_context(gx_root)
    assert config.read_bytes() == before


def test_checkpoint_results_are_stored_as_plain_json(clean_frame, gx_context, gx_root, tmp_path):
    """The results store writes NumPy values (GX 1.24 with NumPy 2) as plain JSON."""
    from mlops.validation.checkpoint import validate_file

    path = tmp_path / "clean.csv"
    clean_frame.to_csv(path, index=False)
    validate_file(path, gx_context)
    stored = list((gx_root / "gx/uncommitted/validations").rglob("*.json"))
    assert stored
    assert all(isinstance(json.loads(file.read_text()), dict) for file in stored)


@pytest.mark.slow  # infers and stores a suite, then validates, through GX
def test_infer_then_validate_a_new_dataset(tmp_path):
    """From no gx/ at all: infer a suite from synthetic data; the stage's checkpoint passes it, fails a bad copy."""
    columns = {
        "size": factories.gamma(3, 2),
        "colour": factories.category(["red", "blue"]),
    }
    frame = factories.table(300, 1, columns, factories.drawn_labels(["a", "b", "c"]))
    frame.to_csv(tmp_path / "data.csv", index=False)
    frame.assign(size=-frame["size"]).to_csv(tmp_path / "bad.csv", index=False)
    params = {**MINIMAL_PARAMS, "data": {"source": "data.csv", "target": "label"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    inferred = mlops("expectations", "infer", "--data", "data.csv", "--params", "params.yaml", cwd=tmp_path)
    assert inferred.returncode == 0, inferred.stderr
    assert "-> gx/expectations/raw_dataset.json" in inferred.stdout
    suite = json.loads((tmp_path / "gx/expectations/raw_dataset.json").read_text())
    assert {e["kwargs"].get("column") for e in suite["expectations"]} == {None, "size", "colour", "label"}
    assert (tmp_path / "gx/checkpoints/raw_dataset.json").is_file()

    passed = mlops("validate", "--data", "data.csv", cwd=tmp_path)
    assert passed.returncode == 0, passed.stderr
    assert (tmp_path / "reports/validation/docs/index.html").is_file()
    failed = mlops("validate", "--data", "bad.csv", cwd=tmp_path)
    assert failed.returncode == 1
    assert "expect_column_values_to_be_between(size)" in failed.stderr
