"""The Kubeflow pipeline (pipelines/): compiled, and run with KFP's local runner to the same
results as `dvc repro` on the same synthetic data and seed."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import synthetic_project

STAGES = list(yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"])


@pytest.fixture(scope="module")
def pipeline():
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from pipelines import pipeline
    finally:
        sys.path.remove(str(REPO_ROOT))
    return pipeline


def compiled_pipeline(path) -> dict:
    code = f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); from pipelines.pipeline import compile_pipeline; "
    subprocess.run(
        [sys.executable, "-c", code + f"compile_pipeline(__import__('pathlib').Path({str(path)!r}))"], check=True
    )
    return yaml.safe_load(path.read_text())


def test_the_committed_ir_is_what_the_pipeline_compiles_to(tmp_path):
    fresh = compiled_pipeline(tmp_path / "pipeline.yaml")
    committed = yaml.safe_load((REPO_ROOT / "pipelines/pipeline.yaml").read_text())
    assert fresh == committed, "pipelines/pipeline.yaml is stale: run `python pipelines/pipeline.py` and commit it"


def test_the_ir_has_every_dvc_stage_reading_what_dvc_yaml_says():
    spec = yaml.safe_load((REPO_ROOT / "pipelines/pipeline.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert sorted(tasks) == sorted(STAGES) and len(STAGES) == 8
    # Each task waits for the stages whose files it reads (as dvc.yaml's deps say).
    upstream = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    assert upstream["validate"] == {"ingest"}
    assert upstream["prepare"] == {"ingest", "validate"}
    assert upstream["train"] == {"ingest", "prepare"}
    assert upstream["evaluate"] == {"prepare", "train"}
    assert upstream["crossval"] == {"prepare"}
    assert upstream["checks"] == {"prepare", "train", "evaluate", "crossval"}  # train: the decision threshold
    assert upstream["export"] == {"prepare", "train", "evaluate", "checks"}  # only a model that passed its checks
    for name in STAGES:  # every step runs the project's stage code, not a copy of it
        executor = spec["deploymentSpec"]["executors"][f"exec-{name}"]["container"]
        assert f'run_stage("{name}"' in executor["command"][-1]


def test_the_pipeline_takes_its_stages_and_their_inputs_from_dvc_yaml(pipeline):
    assert list(pipeline.STAGES) == STAGES
    assert pipeline.UPSTREAM["crossval"] == ["prepare"]  # crossval's deps are prepare's outs
    assert pipeline.UPSTREAM["export"] == ["prepare", "train", "evaluate", "checks"]


def test_a_stage_without_a_component_stops_the_compile(pipeline):
    pipeline.check_components(pipeline.STAGES)
    with pytest.raises(SystemExit, match=r"a component for each of dvc.yaml's stages \['ingest', 'validate'\]"):
        pipeline.check_components(["ingest", "validate"])  # a component, crossval, no stage has
    with pytest.raises(SystemExit, match="'report'"):
        pipeline.check_components([*pipeline.STAGES, "report"])  # a stage without a component


def test_deps_that_disagree_with_a_components_inputs_stop_the_compile(pipeline):
    outputs = {
        stage: {name: f"{stage}.{name}" for name in pipeline.COMPONENTS[stage].component_spec.outputs}
        for stage in pipeline.STAGES
    }
    assert pipeline.artifacts_for("crossval", {"prepare": outputs["prepare"]}) == {"prepared": "prepare.prepared"}
    with pytest.raises(SystemExit, match=r"crossval takes \['prepared'\]; dvc.yaml's deps give it \[\]"):
        pipeline.artifacts_for("crossval", {})  # dvc.yaml without crossval's deps on prepare's outs
    with pytest.raises(SystemExit, match=r"export takes .*'reports'.*give it \['model', 'prepared'\]"):
        pipeline.artifacts_for("export", {name: outputs[name] for name in ("prepare", "train")})
    with pytest.raises(SystemExit, match=r"outputs of \['ingest'\] it does not take"):
        pipeline.artifacts_for("crossval", {"ingest": outputs["ingest"], "prepare": outputs["prepare"]})


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the repository on synthetic data: its suite inferred, then `dvc repro`."""
    root = tmp_path_factory.mktemp("kfp-project")
    train = {"estimator": "random_forest", "hyperparameters": {"n_estimators": 15}}
    params = synthetic_project(root, rows=300, data_seed=3, seed=7, prepare={"test_size": 0.25}, train=train)
    return root, params


@pytest.fixture(scope="module")
def kfp_outputs(project, tmp_path_factory):
    """Run the pipeline with kfp.local, each step a subprocess of this interpreter."""
    root, params = project
    pipeline_root = tmp_path_factory.mktemp("kfp-root")
    code = (
        "import json, sys; from kfp import local; "
        f"sys.path.insert(0, {str(REPO_ROOT)!r}); from pipelines.pipeline import training_pipeline; "
        f"local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root={str(pipeline_root)!r}); "
        f"training_pipeline(params=sys.argv[1], project_dir={str(root)!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(params)], cwd=root, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return pipeline_root, result.stdout


def artifact(pipeline_root, task: str, name: str):
    (found,) = pipeline_root.glob(f"*/{task}/{name}")
    return found


@pytest.mark.slow
def test_every_stage_ran_in_kfp(kfp_outputs):
    pipeline_root, log = kfp_outputs
    for stage in STAGES:
        assert any(path.is_dir() for path in pipeline_root.glob(f"*/{stage}")), f"{stage} left no outputs"
    assert "SUCCESS" in log


@pytest.mark.slow
def test_kfp_gives_the_metrics_and_predictions_dvc_gave(project, kfp_outputs):
    root, _ = project
    pipeline_root, _ = kfp_outputs
    reports = artifact(pipeline_root, "evaluate", "reports")
    dvc_metrics = json.loads((root / "reports/metrics.json").read_text())
    assert json.loads((reports / "reports/metrics.json").read_text()) == dvc_metrics
    pd.testing.assert_frame_equal(
        pd.read_csv(reports / "data/predictions/test.csv"), pd.read_csv(root / "data/predictions/test.csv")
    )
    (task_outputs,) = pipeline_root.glob("*/evaluate/executor_output.json")
    (metrics,) = json.loads(task_outputs.read_text())["artifacts"]["metrics"]["artifacts"]
    assert metrics["metadata"] == {
        name: value for name, value in dvc_metrics.items() if isinstance(value, (int, float))
    }


@pytest.mark.slow
def test_kfp_exports_the_model_the_service_loads(project, kfp_outputs):
    from mlops.serving import runtime

    root, _ = project
    pipeline_root, _ = kfp_outputs
    models = artifact(pipeline_root, "export", "serving_model") / "models"
    metadata, predictor = runtime.load(models)
    assert runtime.self_test(metadata, predictor) is None
    dvc_metadata = json.loads((root / "models/metadata.json").read_text())
    assert metadata["classes"] == dvc_metadata["classes"] and metadata["schema"] == dvc_metadata["schema"]
    assert metadata["metrics"] == dvc_metadata["metrics"]
