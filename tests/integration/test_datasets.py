"""A user swaps in their own data: the README's steps, then the service and the test suite, on six datasets.

Each dataset goes through a fresh copy of the repository exactly as README's "Your own
data, step by step" says (tests/datasets.py: `adopt`): the file into data/source/, `dvc add`,
data.source, data.target (and data.task) in params.yaml, `mlops expectations infer`, `make run`
(its `dvc repro`). Then the model is served by gunicorn and `mlops smoke` checks it predicts every
test row as the pipeline did, and `make test-fast`'s pytest command (read from the Makefile) runs
inside the copy: the project tests follow the new data without a test being edited. The commands
run in the tests' own environment, not through make, which would reinstall it for the copy. Only
files under data/, gx/, params.yaml and the pipeline's outputs change.

- binary: the template's own example (its suite re-inferred from scratch);
- multiclass: scikit-learn's wine, as CSV;
- regression: scikit-learn's diabetes, bundled (`sklearn:diabetes`, nothing to add), `data.task: regression`;
- mixed: generated, as Parquet: numeric, integer, boolean and categorical features,
  missing values in numeric and categorical columns, three classes;
- churn: generated, as CSV (tests/churn.py): an id, a date as text, a 180-value city with missing
  values, names with spaces, parentheses, a euro sign and a dash, a rare positive class;
- penguins: generated, as CSV (tests/penguins.py), shaped like the raw Palmer penguins export: class
  names with spaces and parentheses, constant columns, an individual's id that repeats, a sample number,
  a date as text, missing values and a stray "." in `Sex`, free-text comments, a rarer class.
The last two are tables of real-world shape: their column roles come from `mlops expectations infer`
alone, written into params.yaml, and each has its own next batch and unseen value (tests below).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pandas as pd
import pytest

from mlops.http import free_port
from tests.conftest import fast_tests_command
from tests.datasets import TABLES, adopt, run

pytestmark = [pytest.mark.slow, pytest.mark.datasets]


@pytest.fixture(scope="module", params=list(TABLES))
def adopted(request, tmp_path_factory):
    """A copy of the repository after README's five steps on one dataset."""
    name = request.param
    root, env, output = adopt(name, tmp_path_factory.mktemp(name))
    return name, root, env, TABLES[name].target, output


def test_the_pipeline_runs_and_its_model_learns(adopted):
    import json

    name, root, _, target, output = adopted
    assert "Running stage 'export'" in output
    if TABLES[name].task == "regression":
        assert json.loads((root / "reports/metrics.json").read_text())["r2"] > 0.2
        return
    per_class = json.loads((root / "reports/per_class.json").read_text())
    if name != "binary":
        frame = TABLES[name].frame()
        assert set(per_class) == set(frame[target].astype(str))
    assert all(scores["recall"] > 0 for scores in per_class.values())


def test_only_data_params_and_pipeline_outputs_changed(adopted):
    _, root, _, _, _ = adopted
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True
    ).stdout
    changed = {line[3:].strip('"') for line in status.splitlines()}
    allowed = ("data/source/", "gx/", "params.yaml", "dvc.lock", "reports/", "deploy/prometheus/rules/generated.yml")
    assert changed and all(path.startswith(allowed) for path in changed), sorted(changed)


def test_the_service_predicts_what_the_pipeline_did(adopted, tmp_path):
    _, root, env, _, _ = adopted
    port = free_port()
    service_env = {**env, "PORT": str(port), "MLOPS_MODEL_DIR": str(root / "models")}
    service_env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    with open(tmp_path / "gunicorn.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:mlops.serving.gunicorn_conf"],
            cwd=root,
            env=service_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        smoke = subprocess.run(
            [sys.executable, "-m", "mlops", "smoke", "--url", url, "--wait", "120"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr + (tmp_path / "gunicorn.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_fast_test_suite_passes_on_the_new_data(adopted):
    name, root, env, _, _ = adopted
    if name == "binary":
        pytest.skip("the repository's own `make test-fast` is this run: the default data needs no second one")
    env = {key: value for key, value in env.items() if not key.startswith("PYTEST_")}
    started = time.perf_counter()
    output = run(fast_tests_command(), root, env, timeout=3600)
    print(f"{name}: make test-fast's command took {time.perf_counter() - started:.1f} s in the copy")
    assert re.search(r"\d+ passed", output) and " failed" not in output


# The checks of a table of real-world shape: the same copy as above (indirect: its instance of `adopted`).
real_world = pytest.mark.parametrize("adopted", [name for name, table in TABLES.items() if table.later], indirect=True)


@real_world
def test_infer_names_each_role_and_no_id_is_a_feature(adopted):
    import json

    name, root, _, _, output = adopted
    table = TABLES[name]
    for line in table.inferred:
        assert f"expectations: {line}" in output
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    names = [feature["name"] for feature in schema["features"]]
    assert not set(names) & set(table.not_features), names
    assert schema.get("ids", []) == list(table.ids)  # schema.json leaves out a role no column has
    dates = [column for column in table.not_features if f"{column} (days)" in names]
    assert dates, f"no date became features: {names}"
    if name == "churn":
        city = next(feature for feature in schema["features"] if feature["name"] == "city")
        assert len(city["categories"]) == 31  # the 30 most frequent and (other)


@real_world
def test_the_next_batch_passes_validate(adopted):
    name, root, env, _, _ = adopted
    table = TABLES[name]
    frame = pd.read_csv(root / table.source)
    table.later(frame, len(frame) // 2 + 100).to_csv(root / "next.csv", index=False)  # above the suite's min rows
    assert "passed all" in run([sys.executable, "-m", "mlops", "validate", "--data", "next.csv"], root, env)


@real_world
def test_the_service_answers_an_unseen_date_and_category_and_follows_unknown_categories(adopted, tmp_path):
    import json
    import shutil

    from mlops.serving.app import create_app

    name, root, _, _, _ = adopted
    table = TABLES[name]
    frame = pd.read_csv(root / table.source)
    rows = json.loads(table.later(frame, 3).drop(columns=table.target).to_json(orient="records"))
    client = create_app(root / "models").test_client()
    answer = client.post("/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    ids = [{column: row[column] for column in table.ids} for row in rows] if table.ids else None
    assert answer.get_json().get("ids") == ids  # each row's ids echoed; no `ids` where the data has none
    unseen = [{**rows[0], **table.unseen}]
    refused = client.post("/predict", json={"instances": unseen})  # serve.unknown_categories: reject
    assert refused.status_code == 400 and "unknown category" in refused.get_data(as_text=True)
    shutil.copytree(root / "models", tmp_path / "models")
    metadata = json.loads((tmp_path / "models/metadata.json").read_text())
    (tmp_path / "models/metadata.json").write_text(json.dumps({**metadata, "unknown_categories": "accept"}))
    accepting = create_app(tmp_path / "models").test_client()
    accepted = accepting.post("/predict", json={"instances": unseen})
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert 'problem="unknown_category"} 1.0' in accepting.get("/metrics").get_data(as_text=True)


@real_world
def test_the_model_beats_its_baseline_as_the_checks_stage_judged(adopted):
    import json

    _, root, _, _, output = adopted
    checks = json.loads((root / "reports/checks.json").read_text())
    assert checks["checks"] and all(check["passed"] for check in checks["checks"]), checks
    assert any(check["name"] == "beats the baseline" for check in checks["checks"])
    assert f"all {len(checks['checks'])} checks passed" in output  # what `make run` printed
