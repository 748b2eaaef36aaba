"""A user swaps in their own data: the README's steps, then the service and the test suite, on four datasets.

Each dataset goes through a fresh copy of the repository exactly as README's "Your own
data, step by step" says: the file into data/source/, `dvc add`, data.source,
data.target (and data.task) in params.yaml, `mlops expectations infer`, `make run` (its `dvc repro`). Then
the model is served by gunicorn and `mlops smoke` checks it predicts every test row as the
pipeline did, and `make test-fast`'s pytest command runs inside the copy: the project tests
follow the new data without a test being edited. The commands run in the tests' own
environment, not through make, which would reinstall it for the copy. Only files under
data/, gx/, params.yaml and the pipeline's outputs change.

- binary: the template's own example (its suite re-inferred from scratch);
- multiclass: scikit-learn's wine, as CSV;
- regression: scikit-learn's diabetes, bundled (`sklearn:diabetes`, nothing to add), `data.task: regression`;
- mixed: generated, as Parquet: numeric, integer, boolean and categorical features,
  missing values in numeric and categorical columns, three classes;
- churn: generated, as CSV (tests/churn.py): an id, a date as text, a 180-value city with missing
  values, names with spaces, parentheses, a euro sign and a dash, a rare positive class. Its column
  roles come from `mlops expectations infer` alone, written into params.yaml.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.http import free_port
from tests import churn as churn_data
from tests.conftest import copy_repository, env_for, set_data_params

pytestmark = [pytest.mark.slow, pytest.mark.datasets]

FAST_TESTS = [sys.executable, "-m", "pytest", "-m", "not slow and not container"]  # make test-fast's tests


def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    return bunch.data.assign(cultivar=[f"cultivar_{code}" for code in bunch.target])


def mixed(rows: int = 360, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dose = rng.normal(0, 1, rows)
    weight = rng.normal(70, 12, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    visits = rng.integers(0, 12, rows)
    member = rng.random(rows) < 0.4
    score = 1.6 * dose + np.where(colour == "red", 1.8, 0.0) + 0.15 * visits + rng.normal(0, 0.25, rows)
    outcome = np.select([score < 0.3, score < 1.9], ["worse", "same"], "better")
    weight[rng.random(rows) < 0.1] = np.nan
    colour[rng.random(rows) < 0.12] = None
    return pd.DataFrame(
        {
            "dose": dose.round(4),
            "weight": weight.round(1),
            "colour": colour,
            "visits": visits,
            "member": member,
            "outcome": outcome,
        }
    )


# name -> (data.source: None for the template's example, a bundled dataset, or a file under data/source/
# written from the frame; the frame; data.target; data.task)
DATASETS = {
    "binary": (None, None, "target", "classification"),
    "multiclass": ("data/source/wine.csv", wine, "cultivar", "classification"),
    "regression": ("sklearn:diabetes", None, "progression", "regression"),
    "mixed": ("data/source/visits.parquet", mixed, "outcome", "classification"),
    "churn": ("data/source/churn.csv", lambda: churn_data.churn(3000), churn_data.TARGET, "classification"),
}


def run(command: list[str], cwd: Path, env: dict, timeout: int = 2400) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module", params=list(DATASETS))
def adopted(request, tmp_path_factory):
    """A copy of the repository after README's five steps on one dataset."""
    name = request.param
    source, make_frame, target, task = DATASETS[name]
    root = copy_repository(tmp_path_factory.mktemp(name))
    env = {**env_for(root), "PYTHONPATH": str(root / "src")}  # the copy's code, whatever .venv points at
    if make_frame is not None:
        path = root / source
        frame = make_frame()
        frame.to_parquet(path, index=False) if path.suffix == ".parquet" else frame.to_csv(path, index=False)
        run(["dvc", "add", "-q", source], root, env)
    if source is not None:
        set_data_params(root / "params.yaml", source=source, target=target, task=task)
    (root / "gx/expectations/raw_dataset.json").unlink()  # the contract comes from the data, not the template
    inferred = run([sys.executable, "-m", "mlops", "expectations", "infer"], root, env)
    output = run(["dvc", "repro"], root, env)
    return name, root, env, target, inferred + output


def test_the_pipeline_runs_and_its_model_learns(adopted):
    import json

    name, root, _, target, output = adopted
    assert "Running stage 'export'" in output
    if DATASETS[name][3] == "regression":
        assert json.loads((root / "reports/metrics.json").read_text())["r2"] > 0.2
        return
    per_class = json.loads((root / "reports/per_class.json").read_text())
    if name != "binary":
        frame = DATASETS[name][1]()
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
    output = run(FAST_TESTS, root, env, timeout=3600)
    assert re.search(r"\d+ passed", output) and " failed" not in output


# The churn table's own checks: the same copy as above (indirect: its "churn" instance of `adopted`).
churn_only = pytest.mark.parametrize("adopted", ["churn"], indirect=True)


@churn_only
def test_infer_names_each_role_and_no_id_is_a_feature(adopted):
    import json

    _, root, _, _, output = adopted
    for line in (
        f"columns.ids: '{churn_data.ID}' looks like an id",
        f"columns.dates: '{churn_data.DATE}' holds dates",
        f"columns.max_categories: '{churn_data.CITY}' has 180 values",
    ):
        assert line in output
    schema = json.loads((root / "data/prepared/schema.json").read_text())
    names = [feature["name"] for feature in schema["features"]]
    assert churn_data.ID not in names and churn_data.DATE not in names and schema["ids"] == [churn_data.ID]
    assert f"{churn_data.DATE} (days)" in names
    city = next(feature for feature in schema["features"] if feature["name"] == churn_data.CITY)
    assert len(city["categories"]) == 31  # the 30 most frequent and (other)


@churn_only
def test_next_months_batch_passes_validate(adopted):
    _, root, env, _, _ = adopted
    frame = pd.read_csv(root / DATASETS["churn"][0])
    churn_data.later(frame, 1600).to_csv(root / "next.csv", index=False)  # at least the suite's smallest batch
    assert "passed all" in run([sys.executable, "-m", "mlops", "validate", "--data", "next.csv"], root, env)


@churn_only
def test_the_service_answers_an_unseen_date_and_city_and_follows_unknown_categories(adopted, tmp_path):
    import json
    import shutil

    from mlops.serving.app import create_app

    _, root, _, _, _ = adopted
    frame = pd.read_csv(root / DATASETS["churn"][0])
    rows = json.loads(churn_data.later(frame, 3).drop(columns=churn_data.TARGET).to_json(orient="records"))
    client = create_app(root / "models").test_client()
    answer = client.post("/predict", json={"instances": rows})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["ids"] == [{churn_data.ID: row[churn_data.ID]} for row in rows]
    unseen_plan = [{**rows[0], "plan (tier)": "gold"}]
    assert (
        client.post("/predict", json={"instances": unseen_plan}).status_code == 400
    )  # serve.unknown_categories: reject
    shutil.copytree(root / "models", tmp_path / "models")
    metadata = json.loads((tmp_path / "models/metadata.json").read_text())
    (tmp_path / "models/metadata.json").write_text(json.dumps({**metadata, "unknown_categories": "accept"}))
    accepting = create_app(tmp_path / "models").test_client()
    assert accepting.post("/predict", json={"instances": unseen_plan}).status_code == 200
    assert 'problem="unknown_category"} 1.0' in accepting.get("/metrics").get_data(as_text=True)
